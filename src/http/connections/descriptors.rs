//! The process's file-descriptor limit versus `server.max_connections`: every connection holds a
//! descriptor, and running out makes `accept` fail (and the database, SMTP and metrics sockets with
//! it). The soft limit is raised towards the hard one when it is too low, and connections are capped
//! below whatever limit remains.

/// Descriptors kept for everything but client connections: the database pool, SMTP, the metrics
/// listener, log files, the runtime.
const RESERVED: u64 = 256;

/// How many client connections may be open at once: `wanted`, or fewer (with a warning) when the
/// descriptor limit cannot be raised high enough.
pub fn connection_budget(wanted: usize) -> usize {
    let needed = (wanted as u64).saturating_add(RESERVED);
    let Some(available) = raise_limit(needed) else {
        return wanted;
    };
    let budget = usize::try_from(available.saturating_sub(RESERVED))
        .unwrap_or(usize::MAX)
        .max(1);
    if budget < wanted {
        tracing::warn!(
            max_connections = wanted,
            descriptor_limit = available,
            effective = budget,
            "server.max_connections exceeds what the file-descriptor limit allows; raise the limit (ulimit -n) \
             or lower the setting"
        );
    }
    budget.min(wanted)
}

/// Raises the soft `RLIMIT_NOFILE` to `needed` (at most the hard limit); returns the soft limit in
/// force afterwards, or `None` where it cannot be read. (`rlim_t` is a `u64` on the platforms we ship.)
#[cfg(unix)]
fn raise_limit(needed: u64) -> Option<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we own.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return None;
    }
    let soft = limit.rlim_cur;
    if soft >= needed {
        return Some(soft);
    }
    let raised = libc::rlimit {
        rlim_cur: needed.min(limit.rlim_max),
        rlim_max: limit.rlim_max,
    };
    // SAFETY: setrlimit reads the struct we own; raising the soft limit up to the hard one is always allowed.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
        Some(raised.rlim_cur)
    } else {
        Some(soft)
    }
}

#[cfg(not(unix))]
fn raise_limit(_needed: u64) -> Option<u64> {
    None
}
