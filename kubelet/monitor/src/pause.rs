//! `kubelet-monitor pause`: the process that holds a pod's namespaces.

/// Sleep holding the namespaces we were started in; as PID 1 of a shared PID
/// namespace, reap whatever gets reparented to us. Exit on SIGTERM or SIGINT (as
/// upstream's pause does).
pub fn run() -> i32 {
    let set = unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for s in [libc::SIGCHLD, libc::SIGTERM, libc::SIGINT] {
            libc::sigaddset(&mut set, s);
        }
        libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        set
    };
    loop {
        let sig = unsafe { libc::sigwaitinfo(&set, std::ptr::null_mut()) };
        match sig {
            libc::SIGTERM | libc::SIGINT => return 0,
            _ => {
                let mut st = 0;
                while unsafe { libc::waitpid(-1, &mut st, libc::WNOHANG) } > 0 {}
            }
        }
    }
}

