package org.nativepool.gpu;

import org.nativepool.NativePoolException;

/**
 * A CUDA runtime call failed. Carries what the runtime reported, so callers
 * can act on the error without parsing the message.
 */
public class CudaException extends NativePoolException {
    private static final long serialVersionUID = 1L;

    /** The CUDA error name. */
    private final String errorName;
    /** The numeric {@code cudaError_t}. */
    private final int errorCode;
    /** The runtime call that failed. */
    private final String call;

    /**
     * @param message the full description
     * @param errorName the CUDA error name, e.g. {@code cudaErrorMemoryAllocation}
     * @param errorCode the numeric {@code cudaError_t}
     * @param call the runtime call that failed, e.g. {@code cudaMalloc}
     */
    public CudaException(String message, String errorName, int errorCode, String call) {
        super(message);
        this.errorName = errorName;
        this.errorCode = errorCode;
        this.call = call;
    }

    /** {@return the CUDA error name, e.g. {@code cudaErrorMemoryAllocation}} */
    public String errorName() {
        return errorName;
    }

    /** {@return the numeric {@code cudaError_t} value} */
    public int errorCode() {
        return errorCode;
    }

    /** {@return the runtime call that failed, e.g. {@code cudaMalloc}} */
    public String call() {
        return call;
    }
}
