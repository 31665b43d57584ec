package org.nativepool.internal;

import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;
import javax.management.InstanceAlreadyExistsException;
import javax.management.InstanceNotFoundException;
import javax.management.JMException;
import javax.management.MBeanServer;
import javax.management.MalformedObjectNameException;
import javax.management.ObjectName;
import org.nativepool.PoolNameInUseException;

/**
 * The library's beans on the platform MBean server: the names, quoted where a
 * name needs it, and a registration of several beans that is all or nothing,
 * for pools, persistent pools, device managers and node-local groups alike.
 * Not API.
 */
public final class MBeans {
    /** The system property that sets the default of every {@code jmx(boolean)} option. */
    public static final String PROPERTY = "nativepool.jmx";

    /**
     * A bean and the name it registers under.
     *
     * @param name its name
     * @param bean the object that implements an MXBean interface
     */
    public record Bean(ObjectName name, Object bean) {
    }

    private MBeans() {
    }

    /** {@return whether to register: {@code choice} when given, else the {@link #PROPERTY} default} */
    public static boolean wanted(Boolean choice) {
        return choice != null ? choice : Boolean.getBoolean(PROPERTY);
    }

    /**
     * {@return {@code prefix}, {@code value} (quoted when it holds a character a name reserves), then
     * {@code suffix} (further keys, such as {@code ",node=0"}, or "")}
     */
    public static ObjectName name(String prefix, String value, String suffix) {
        boolean plain = !value.isEmpty() && value.chars().noneMatch(c -> ",=:*?\"\\\n".indexOf(c) >= 0);
        try {
            return new ObjectName(prefix + (plain ? value : ObjectName.quote(value)) + suffix);
        } catch (MalformedObjectNameException e) {
            throw new IllegalStateException("no JMX name for " + value, e);
        }
    }

    /**
     * Registers {@code beans} in order, all or none.
     *
     * @param owner the owner as its messages name it ({@code toString()})
     * @param kind what the owner is, for the message: "pool", "device manager"
     * @param name the owner's name, which its beans' names carry
     * @return the names registered, for {@link #unregister}
     * @throws PoolNameInUseException if a name is taken; none of the beans is then registered
     */
    public static List<ObjectName> register(String owner, String kind, String name, List<Bean> beans) {
        MBeanServer server = ManagementFactory.getPlatformMBeanServer();
        List<ObjectName> done = new ArrayList<>(beans.size());
        try {
            for (Bean bean : beans) {
                server.registerMBean(bean.bean(), bean.name());
                done.add(bean.name());
            }
        } catch (InstanceAlreadyExistsException taken) {
            unregister(done);
            throw new PoolNameInUseException("cannot register " + owner + " with JMX: another " + kind + " named \""
                    + name + "\" is registered (" + taken.getMessage() + "); give each " + kind + " its own name");
        } catch (JMException e) {
            unregister(done);
            throw new IllegalStateException("cannot register " + owner + " with JMX", e);
        }
        return List.copyOf(done);
    }

    /**
     * {@return what {@code register} returns} For an owner just built: when the registration is refused,
     * {@code close} runs first, so that nothing of the owner is left, and the refusal is thrown.
     *
     * @param register registers the owner's beans
     * @param close closes the owner
     * @param <T> what the registration returns
     */
    public static <T> T registerOrClose(Supplier<T> register, Runnable close) {
        try {
            return register.get();
        } catch (RuntimeException refused) {
            close.run();
            throw refused;
        }
    }

    /** Unregisters {@code names}; one already gone (unregistered by another hand) is no error. */
    public static void unregister(List<ObjectName> names) {
        MBeanServer server = ManagementFactory.getPlatformMBeanServer();
        for (ObjectName name : names) {
            try {
                server.unregisterMBean(name);
            } catch (InstanceNotFoundException gone) {
                // unregistered by someone else: the aim is reached
            } catch (JMException e) {
                throw new IllegalStateException("cannot unregister " + name, e);
            }
        }
    }
}
