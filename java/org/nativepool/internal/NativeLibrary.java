package org.nativepool.internal;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.nio.file.FileSystem;
import java.nio.file.FileSystemNotFoundException;
import java.nio.file.FileSystems;
import java.nio.file.ProviderNotFoundException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.CodeSource;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Properties;
import java.util.stream.Stream;
import org.nativepool.NativeLibraryUnavailableException;

/**
 * Finds and loads {@code libnativepool}, once per class loader.
 *
 * <p>Order, first match wins:
 * <ol>
 *   <li>{@value #PATH_PROPERTY}: a library file, or a directory holding one;</li>
 *   <li>the library bundled in the JAR under
 *       {@code org/nativepool/native/<os>-<arch>/}, extracted to a per-user,
 *       per-version directory under {@value #EXTRACT_DIR_PROPERTY} (default
 *       {@code java.io.tmpdir}) and verified by SHA-256;</li>
 *   <li>{@code System.loadLibrary("nativepool")}, i.e. {@code java.library.path}.</li>
 * </ol>
 *
 * <p>Extraction is safe when several JVMs start at once: each writes its own
 * temporary file and atomically renames it to a name that contains the
 * content hash, so a reader sees either no file or a complete one, and an
 * existing file is reused only after its hash is checked.
 */
public final class NativeLibrary {
    /** System property: path of the library file, or of a directory holding it. */
    public static final String PATH_PROPERTY = "nativepool.library.path";
    /** System property: directory under which the bundled library is extracted. */
    public static final String EXTRACT_DIR_PROPERTY = "nativepool.extract.dir";

    private static final String LIBRARY = "nativepool";
    /** The bundled libraries lie at {@code <this>/<platform>/<library file>}. */
    private static final String RESOURCE_ROOT = "org/nativepool/native";
    private static final Object LOCK = new Object();
    private static volatile String loadedFrom;
    private static NativeLibraryUnavailableException failure;

    private NativeLibrary() {
    }

    /**
     * Loads the library if it is not loaded yet.
     *
     * @throws NativeLibraryUnavailableException with every attempt explained
     */
    public static void ensureLoaded() {
        if (loadedFrom != null) {
            return;
        }
        synchronized (LOCK) {
            if (loadedFrom != null) {
                return;
            }
            if (failure == null) {
                try {
                    String origin = load();
                    checkVersion(origin);
                    loadedFrom = origin;
                    return;
                } catch (NativeLibraryUnavailableException e) {
                    failure = e;
                }
            }
            // A new exception each time, so every caller's stack is visible.
            throw new NativeLibraryUnavailableException(failure.getMessage(), failure);
        }
    }

    /** Where the library was loaded from, for diagnostics; null before loading. */
    public static String loadedFrom() {
        return loadedFrom;
    }

    /** The Maven version of this JAR. */
    public static String javaVersion() {
        try (InputStream in = NativeLibrary.class.getResourceAsStream("/org/nativepool/nativepool.properties")) {
            Properties properties = new Properties();
            if (in != null) {
                properties.load(in);
            }
            return properties.getProperty("version", "unknown");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** {@code linux-x86_64}, {@code linux-aarch64}, {@code osx-aarch64}, ... */
    public static String platform() {
        String os = System.getProperty("os.name", "").toLowerCase(Locale.ROOT);
        String arch = System.getProperty("os.arch", "").toLowerCase(Locale.ROOT);
        String osName = os.contains("linux") ? "linux" : os.contains("mac") ? "osx" : os.contains("win") ? "windows" : os;
        String archName = switch (arch) {
            case "amd64", "x86_64" -> "x86_64";
            case "aarch64", "arm64" -> "aarch64";
            default -> arch;
        };
        return osName + "-" + archName;
    }

    private static String load() {
        List<String> attempts = new ArrayList<>();
        String override = System.getProperty(PATH_PROPERTY);
        if (override != null && !override.isBlank()) {
            Path path = Paths.get(override);
            if (Files.isDirectory(path)) {
                path = path.resolve(System.mapLibraryName(LIBRARY));
            }
            loadFile(path, "-D" + PATH_PROPERTY + "=" + override);
            return path.toString();
        }
        String resource = "/" + RESOURCE_ROOT + "/" + platform() + "/" + System.mapLibraryName(LIBRARY);
        byte[] bundled = readResource(resource);
        if (bundled != null) {
            Path extracted = extract(bundled, System.mapLibraryName(LIBRARY));
            loadFile(extracted, "the library bundled in the JAR, extracted to " + extracted);
            return "jar:" + resource + " -> " + extracted;
        }
        attempts.add("no library bundled for platform " + platform() + " (resource " + resource
                + "); this JAR carries " + bundledPlatforms());
        try {
            System.loadLibrary(LIBRARY);
            return "java.library.path";
        } catch (IllegalCallerException e) {
            throw nativeAccessDenied("java.library.path", e);
        } catch (UnsatisfiedLinkError e) {
            attempts.add("System.loadLibrary(\"" + LIBRARY + "\") failed: " + e.getMessage());
        }
        throw new NativeLibraryUnavailableException("cannot load the nativepool native library: "
                + String.join("; ", attempts) + ". Build it for this platform and pass -D" + PATH_PROPERTY
                + "=<file or directory>, or add its directory to java.library.path");
    }

    /**
     * The platforms whose library this JAR (or class directory) carries, e.g.
     * {@code linux-aarch64, linux-x86_64}, so that the error for any other
     * platform says which ones would have loaded. Only for that message: a
     * location that cannot be listed is described, not thrown.
     */
    private static String bundledPlatforms() {
        CodeSource source = NativeLibrary.class.getProtectionDomain().getCodeSource();
        if (source == null) {
            return "an unknown set of platforms (its class loader names no location)";
        }
        try {
            Path location = Paths.get(source.getLocation().toURI());
            if (Files.isDirectory(location)) {
                return platformsUnder(location.resolve(RESOURCE_ROOT));
            }
            try (FileSystem jar = FileSystems.newFileSystem(location)) {
                return platformsUnder(jar.getPath(RESOURCE_ROOT));
            }
        } catch (IOException | URISyntaxException | IllegalArgumentException | FileSystemNotFoundException
                | ProviderNotFoundException e) {
            // A location that is no local file or JAR, such as a JAR nested in another.
            return "an unknown set of platforms (cannot list " + source.getLocation() + ": " + e + ")";
        }
    }

    private static String platformsUnder(Path root) throws IOException {
        if (!Files.isDirectory(root)) {
            return "no native library at all";
        }
        try (Stream<Path> directories = Files.list(root)) {
            List<String> platforms = directories.filter(NativeLibrary::holdsAFile)
                    .map(directory -> directory.getFileName().toString()).sorted().toList();
            return platforms.isEmpty() ? "no native library at all" : String.join(", ", platforms);
        }
    }

    private static boolean holdsAFile(Path directory) {
        try (Stream<Path> entries = Files.list(directory)) {
            return entries.anyMatch(Files::isRegularFile);
        } catch (IOException notADirectory) {
            return false;
        }
    }

    private static void loadFile(Path path, String origin) {
        try {
            System.load(path.toAbsolutePath().toString());
        } catch (IllegalCallerException e) {
            throw nativeAccessDenied(origin, e);
        } catch (UnsatisfiedLinkError e) {
            String hint = e.getMessage() != null && e.getMessage().contains("failed to map segment")
                    ? " The directory is probably mounted noexec: set -D" + EXTRACT_DIR_PROPERTY
                            + "=<directory on an executable mount> or -D" + PATH_PROPERTY + "=<library file>."
                    : " Set -D" + PATH_PROPERTY + "=<library file> to load another build.";
            throw new NativeLibraryUnavailableException(
                    "cannot load the nativepool native library from " + origin + ": " + e.getMessage() + "." + hint, e);
        }
    }

    /**
     * JDK 24 and later refuse {@code System.load} to code without native access when the JVM runs
     * with {@code --illegal-native-access=deny} (and warn without the flag). {@code java -jar}
     * grants it through the manifest's {@code Enable-Native-Access}; other launches need the flag.
     */
    private static NativeLibraryUnavailableException nativeAccessDenied(String origin, IllegalCallerException e) {
        Module module = NativeLibrary.class.getModule();
        String grant = module.isNamed() ? module.getName() : "ALL-UNNAMED";
        return new NativeLibraryUnavailableException("cannot load the nativepool native library from " + origin
                + ": the JVM denies native access to " + (module.isNamed() ? "module " + grant : "the class path")
                + " (" + e.getMessage() + "). Start java with --enable-native-access=" + grant
                + " (class path: ALL-UNNAMED; module path: org.nativepool); java -jar nativepool.jar grants it"
                + " through the JAR's manifest", e);
    }

    private static byte[] readResource(String resource) {
        try (InputStream in = NativeLibrary.class.getResourceAsStream(resource)) {
            return in == null ? null : in.readAllBytes();
        } catch (IOException e) {
            throw new NativeLibraryUnavailableException("cannot read " + resource + " from the JAR: " + e, e);
        }
    }

    /**
     * The names of the backend plugins bundled in the JAR for this platform
     * (its {@code plugins/plugins.list}, one name a line); empty when none are.
     */
    public static List<String> bundledPlugins() {
        byte[] list = readResource(pluginResource("plugins.list"));
        if (list == null) {
            return List.of();
        }
        return new String(list, java.nio.charset.StandardCharsets.UTF_8).lines().map(String::strip)
                .filter(line -> !line.isEmpty()).toList();
    }

    /**
     * Extracts the bundled plugin {@code name} next to the extracted library,
     * the same way (per user and version, verified by SHA-256); null when the
     * JAR carries no plugin of that name for this platform.
     */
    public static Path extractPlugin(String name) {
        String file = System.mapLibraryName("nativepool_" + name);
        byte[] plugin = readResource(pluginResource(file));
        return plugin == null ? null : extract(plugin, file);
    }

    private static String pluginResource(String file) {
        return "/org/nativepool/native/" + platform() + "/plugins/" + file;
    }

    private static Path extract(byte[] library, String fileName) {
        String hash = sha256(library);
        String base = System.getProperty(EXTRACT_DIR_PROPERTY, System.getProperty("java.io.tmpdir"));
        String user = System.getProperty("user.name", "user").replaceAll("[^A-Za-z0-9._-]", "_");
        Path directory = Paths.get(base, "nativepool-" + user, javaVersion());
        Path target = directory.resolve(hash.substring(0, 16) + "-" + fileName);
        try {
            createPrivateDirectories(directory);
            if (Files.isRegularFile(target) && hash.equals(sha256(Files.readAllBytes(target)))) {
                return target;
            }
            Path temporary = Files.createTempFile(directory, "extract-", ".tmp");
            try {
                Files.write(temporary, library);
                moveAtomically(temporary, target);
            } finally {
                Files.deleteIfExists(temporary);
            }
            if (!hash.equals(sha256(Files.readAllBytes(target)))) {
                throw new IOException("content of " + target + " does not match the bundled library");
            }
            return target;
        } catch (IOException e) {
            throw new NativeLibraryUnavailableException("cannot extract the bundled native library to " + directory
                    + ": " + e + ". Set -D" + EXTRACT_DIR_PROPERTY + "=<writable directory> or -D" + PATH_PROPERTY
                    + "=<library file>", e);
        }
    }

    private static void createPrivateDirectories(Path directory) throws IOException {
        if (Files.isDirectory(directory)) {
            return;
        }
        Files.createDirectories(directory.getParent());
        try {
            Files.createDirectory(directory,
                    PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        } catch (FileAlreadyExistsException raced) {
            // Another JVM created it first: fine.
        } catch (UnsupportedOperationException notPosix) {
            Files.createDirectories(directory);
        }
    }

    private static void moveAtomically(Path from, Path to) throws IOException {
        try {
            Files.move(from, to, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(from, to, StandardCopyOption.REPLACE_EXISTING);
        }
    }

    private static String sha256(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is required on every Java platform", e);
        }
    }

    private static void checkVersion(String origin) {
        String expected = javaVersion();
        String actual = nativeVersion();
        if (!expected.equals(actual)) {
            throw new NativeLibraryUnavailableException("native library version " + actual + " (loaded from "
                    + origin + ") does not match the nativepool JAR version " + expected);
        }
    }

    /** Version compiled into the native library; registered by JNI_OnLoad. */
    private static native String nativeVersion();
}
