#!/bin/bash
# Run from the repository root after building the two benchmark jars (README.md).
# base = 7f1e776 (12 classes up to 1 KiB), new = 51f5521 (15 classes up to 3 KiB)
out=bench/results/jmh/java-classes-3k
for rep in 1 2; do
  for t in 1 2; do
    for v in base new; do
      java -jar /work/jmh-$v.jar -t $t -wi 2 -w 1s -i 5 -r 1s -f 1 -rf json -rff $out/$v-t$t-r$rep.json \
        'MixedSizeBenchmark\.(floor|unsafe|nativepoolRaw|nativepoolRawUncached|nativepoolHandle)$' > $out/$v-t$t-r$rep.txt 2>&1
      uptime >> $out/load.txt
    done
  done
done
