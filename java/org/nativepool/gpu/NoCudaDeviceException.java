package org.nativepool.gpu;

import org.nativepool.FeatureUnavailableException;

/**
 * CUDA is compiled in, but no device is usable: no NVIDIA driver, or no GPU.
 * The message carries the driver's answer.
 */
public class NoCudaDeviceException extends FeatureUnavailableException {
    private static final long serialVersionUID = 1L;

    /** @param message the detail message, with the driver's answer */
    public NoCudaDeviceException(String message) {
        super(message);
    }
}
