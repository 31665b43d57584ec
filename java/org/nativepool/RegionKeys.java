package org.nativepool;

/**
 * The keys a device gave the region a block lies in when the plugin
 * registered it (RDMA: {@code ibv_mr.lkey} and {@code rkey}). Obtained from
 * {@link Backend#regionKeys(MemoryBlock)}.
 *
 * @param localKey the key local operations name
 * @param remoteKey the key a peer names in remote operations
 */
public record RegionKeys(long localKey, long remoteKey) {
}
