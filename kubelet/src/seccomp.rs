//! `securityContext.seccompProfile` turned into the OCI `linux.seccomp` filter,
//! as upstream's kubelet and containerd do it:
//! - `RuntimeDefault`: containerd's default profile (the same as moby's):
//!   every syscall fails with EPERM unless allowed; the allowlist is what an
//!   ordinary program needs, plus the syscalls that only make sense with a
//!   capability, allowed only when the container has that capability
//!   (mount/unshare/setns with CAP_SYS_ADMIN, ptrace-family with CAP_SYS_PTRACE
//!   on top of the kernel >= 4.8 allowance, ...). Never allowed: keyctl,
//!   add_key, request_key, userfaultfd, io_uring, kexec, swapon, ... and
//!   clone/unshare with namespace flags without CAP_SYS_ADMIN (clone3 answers
//!   ENOSYS so libcs fall back to clone, whose flags can be checked).
//! - `Localhost`: an OCI-format profile file at
//!   `<root-dir>/seccomp/<localhostProfile>` (upstream's seccomp-profile-root).
//! - `Unconfined`, or no profile at all: no filter (upstream's default).
//!
//! The container's profile wins over the pod's.

use k8s_openapi::api::core::v1::{Container, Pod, SeccompProfile};
use serde_json::{json, Value};
use std::path::Path;

/// Syscalls every container may make (containerd's/moby's default allowlist).
const ALLOWED: &[&str] = &[
    "accept", "accept4", "access", "adjtimex", "alarm", "bind", "brk", "cachestat", "capget", "capset", "chdir",
    "chmod", "chown", "chown32", "clock_adjtime", "clock_adjtime64", "clock_getres", "clock_getres_time64",
    "clock_gettime", "clock_gettime64", "clock_nanosleep", "clock_nanosleep_time64", "close", "close_range",
    "connect", "copy_file_range", "creat", "dup", "dup2", "dup3", "epoll_create", "epoll_create1", "epoll_ctl",
    "epoll_ctl_old", "epoll_pwait", "epoll_pwait2", "epoll_wait", "epoll_wait_old", "eventfd", "eventfd2",
    "execve", "execveat", "exit", "exit_group", "faccessat", "faccessat2", "fadvise64", "fadvise64_64",
    "fallocate", "fanotify_mark", "fchdir", "fchmod", "fchmodat", "fchmodat2", "fchown", "fchown32", "fchownat",
    "fcntl", "fcntl64", "fdatasync", "fgetxattr", "flistxattr", "flock", "fork", "fremovexattr", "fsetxattr",
    "fstat", "fstat64", "fstatat64", "fstatfs", "fstatfs64", "fsync", "ftruncate", "ftruncate64", "futex",
    "futex_requeue", "futex_time64", "futex_wait", "futex_waitv", "futex_wake", "futimesat", "getcpu", "getcwd",
    "getdents", "getdents64", "getegid", "getegid32", "geteuid", "geteuid32", "getgid", "getgid32", "getgroups",
    "getgroups32", "getitimer", "getpeername", "getpgid", "getpgrp", "getpid", "getppid", "getpriority",
    "getrandom", "getresgid", "getresgid32", "getresuid", "getresuid32", "getrlimit", "get_robust_list",
    "getrusage", "getsid", "getsockname", "getsockopt", "get_thread_area", "gettid", "gettimeofday", "getuid",
    "getuid32", "getxattr", "inotify_add_watch", "inotify_init", "inotify_init1", "inotify_rm_watch",
    "io_cancel", "ioctl", "io_destroy", "io_getevents", "io_pgetevents", "io_pgetevents_time64", "ioprio_get",
    "ioprio_set", "io_setup", "io_submit", "ipc", "kill", "landlock_add_rule", "landlock_create_ruleset",
    "landlock_restrict_self", "lchown", "lchown32", "lgetxattr", "link", "linkat", "listen", "listxattr",
    "llistxattr", "_llseek", "lremovexattr", "lseek", "lsetxattr", "lstat", "lstat64", "madvise",
    "map_shadow_stack", "membarrier", "memfd_create", "memfd_secret", "mincore", "mkdir", "mkdirat", "mknod",
    "mknodat", "mlock", "mlock2", "mlockall", "mmap", "mmap2", "mprotect", "mq_getsetattr", "mq_notify",
    "mq_open", "mq_timedreceive", "mq_timedreceive_time64", "mq_timedsend", "mq_timedsend_time64", "mq_unlink",
    "mremap", "msgctl", "msgget", "msgrcv", "msgsnd", "msync", "munlock", "munlockall", "munmap",
    "name_to_handle_at", "nanosleep", "newfstatat", "_newselect", "open", "openat", "openat2", "pause",
    "pidfd_open", "pidfd_send_signal", "pipe", "pipe2", "pkey_alloc", "pkey_free", "pkey_mprotect", "poll",
    "ppoll", "ppoll_time64", "prctl", "pread64", "preadv", "preadv2", "prlimit64", "process_mrelease",
    "pselect6", "pselect6_time64", "pwrite64", "pwritev", "pwritev2", "read", "readahead", "readlink",
    "readlinkat", "readv", "recv", "recvfrom", "recvmmsg", "recvmmsg_time64", "recvmsg", "remap_file_pages",
    "removexattr", "rename", "renameat", "renameat2", "restart_syscall", "rmdir", "rseq", "rt_sigaction",
    "rt_sigpending", "rt_sigprocmask", "rt_sigqueueinfo", "rt_sigreturn", "rt_sigsuspend", "rt_sigtimedwait",
    "rt_sigtimedwait_time64", "rt_tgsigqueueinfo", "sched_getaffinity", "sched_getattr", "sched_getparam",
    "sched_get_priority_max", "sched_get_priority_min", "sched_getscheduler", "sched_rr_get_interval",
    "sched_rr_get_interval_time64", "sched_setaffinity", "sched_setattr", "sched_setparam",
    "sched_setscheduler", "sched_yield", "seccomp", "select", "semctl", "semget", "semop", "semtimedop",
    "semtimedop_time64", "send", "sendfile", "sendfile64", "sendmmsg", "sendmsg", "sendto", "setfsgid",
    "setfsgid32", "setfsuid", "setfsuid32", "setgid", "setgid32", "setgroups", "setgroups32", "setitimer",
    "setpgid", "setpriority", "setregid", "setregid32", "setresgid", "setresgid32", "setresuid", "setresuid32",
    "setreuid", "setreuid32", "setrlimit", "set_robust_list", "setsid", "setsockopt", "set_thread_area",
    "set_tid_address", "setuid", "setuid32", "setxattr", "shmat", "shmctl", "shmdt", "shmget", "shutdown",
    "sigaltstack", "signalfd", "signalfd4", "sigprocmask", "sigreturn", "socket", "socketcall", "socketpair",
    "splice", "stat", "stat64", "statfs", "statfs64", "statx", "symlink", "symlinkat", "sync",
    "sync_file_range", "syncfs", "sysinfo", "tee", "tgkill", "time", "timer_create", "timer_delete",
    "timer_getoverrun", "timer_gettime", "timer_gettime64", "timer_settime", "timer_settime64",
    "timerfd_create", "timerfd_gettime", "timerfd_gettime64", "timerfd_settime", "timerfd_settime64", "times",
    "tkill", "truncate", "truncate64", "ugetrlimit", "umask", "uname", "unlink", "unlinkat", "utime",
    "utimensat", "utimensat_time64", "utimes", "vfork", "vmsplice", "wait4", "waitid", "waitpid", "write",
    "writev",
    // x86 only.
    "arch_prctl", "modify_ldt",
    // Allowed without CAP_SYS_PTRACE on kernels >= 4.8 (where seccomp can no
    // longer be bypassed with ptrace), as containerd does.
    "kcmp", "pidfd_getfd", "process_madvise", "process_vm_readv", "process_vm_writev", "ptrace",
];

/// Syscalls allowed only when the container holds the capability.
const BY_CAPABILITY: &[(&str, &[&str])] = &[
    ("CAP_DAC_READ_SEARCH", &["open_by_handle_at"]),
    (
        "CAP_SYS_ADMIN",
        &[
            "bpf", "clone", "clone3", "fanotify_init", "fsconfig", "fsmount", "fsopen", "fspick", "lookup_dcookie",
            "mount", "mount_setattr", "move_mount", "open_tree", "perf_event_open", "quotactl", "quotactl_fd",
            "setdomainname", "sethostname", "setns", "syslog", "umount", "umount2", "unshare",
        ],
    ),
    ("CAP_SYS_BOOT", &["reboot"]),
    ("CAP_SYS_CHROOT", &["chroot"]),
    ("CAP_SYS_MODULE", &["delete_module", "init_module", "finit_module"]),
    ("CAP_SYS_PACCT", &["acct"]),
    ("CAP_SYS_RAWIO", &["iopl", "ioperm"]),
    ("CAP_SYS_TIME", &["settimeofday", "stime", "clock_settime", "clock_settime64"]),
    ("CAP_SYS_TTY_CONFIG", &["vhangup"]),
    ("CAP_SYS_NICE", &["get_mempolicy", "mbind", "set_mempolicy", "set_mempolicy_home_node"]),
    ("CAP_SYSLOG", &["syslog"]),
    ("CAP_BPF", &["bpf"]),
    ("CAP_PERFMON", &["perf_event_open"]),
];

/// CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET (and
/// CLONE_NEWTIME's bit 7 is checked by clone3 only).
const CLONE_NS_FLAGS: u64 = 0x0002_0000 | 0x0200_0000 | 0x0400_0000 | 0x0800_0000 | 0x1000_0000 | 0x2000_0000 | 0x4000_0000;

const EPERM: u32 = 1;
const ENOSYS: u32 = 38;

/// The profile that applies to the container: its own, else the pod's.
pub fn profile<'a>(pod: &'a Pod, c: &'a Container) -> Option<&'a SeccompProfile> {
    let psc = pod.spec.as_ref().and_then(|s| s.security_context.as_ref());
    c.security_context.as_ref().and_then(|s| s.seccomp_profile.as_ref()).or(psc.and_then(|s| s.seccomp_profile.as_ref()))
}

/// The OCI `linux.seccomp` for `profile` and a container with capabilities
/// `caps` (bounding set); None = unconfined. Err: the message of upstream's
/// CreateContainerError (unknown type, unreadable or invalid Localhost file).
pub fn oci(profile: Option<&SeccompProfile>, caps: &[String], seccomp_root: &Path) -> Result<Option<Value>, String> {
    let Some(p) = profile else { return Ok(None) };
    match p.type_.as_str() {
        "Unconfined" => Ok(None),
        "RuntimeDefault" => Ok(Some(runtime_default(caps))),
        "Localhost" => {
            let name = p.localhost_profile.as_deref().unwrap_or("");
            if name.is_empty() || Path::new(name).is_absolute() || name.split('/').any(|s| s == "..") {
                return Err(format!("localhostProfile {name:?}: must be a relative path below the seccomp profile root, without '..'"));
            }
            let path = seccomp_root.join(name);
            let text = std::fs::read_to_string(&path).map_err(|e| format!("cannot load seccomp profile {:?}: {e}", path.display().to_string()))?;
            let v: Value = serde_json::from_str(&text).map_err(|e| format!("decoding seccomp profile {:?} failed: {e}", path.display().to_string()))?;
            // Validate it as the runtime will read it (field names, actions, operators).
            serde_json::from_value::<libcontainer::oci_spec::runtime::LinuxSeccomp>(v.clone())
                .map_err(|e| format!("seccomp profile {:?} is not a valid OCI seccomp profile: {e}", path.display().to_string()))?;
            Ok(Some(v))
        }
        other => Err(format!("unsupported seccomp profile type {other:?}: supported are RuntimeDefault, Localhost, Unconfined")),
    }
}

/// containerd's default profile for a container with these capabilities.
pub fn runtime_default(caps: &[String]) -> Value {
    let has = |c: &str| caps.iter().any(|x| x == c);
    let mut allowed: Vec<&str> = ALLOWED.to_vec();
    for (cap, calls) in BY_CAPABILITY {
        if has(cap) {
            allowed.extend(calls.iter().copied());
        }
    }
    allowed.sort_unstable();
    allowed.dedup();
    let mut syscalls = vec![
        json!({"names": allowed, "action": "SCMP_ACT_ALLOW"}),
        // Only the personalities programs ask for (linux, linux32 with
        // UNAME26 and/or ADDR_NO_RANDOMIZE, and the query).
        json!({"names": ["personality"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_EQ"}]}),
        json!({"names": ["personality"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]}),
        json!({"names": ["personality"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 131072, "op": "SCMP_CMP_EQ"}]}),
        json!({"names": ["personality"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 131080, "op": "SCMP_CMP_EQ"}]}),
        json!({"names": ["personality"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 4294967295u64, "op": "SCMP_CMP_EQ"}]}),
    ];
    if !has("CAP_SYS_ADMIN") {
        // clone without any namespace flag; clone3's flags live in memory the
        // filter cannot read, so it reports ENOSYS and libc falls back to clone.
        syscalls.push(json!({"names": ["clone"], "action": "SCMP_ACT_ALLOW",
            "args": [{"index": 0, "value": CLONE_NS_FLAGS, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]}));
        syscalls.push(json!({"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": ENOSYS}));
    }
    json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": EPERM,
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": syscalls,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(t: &str, local: Option<&str>) -> SeccompProfile {
        SeccompProfile { type_: t.into(), localhost_profile: local.map(str::to_string) }
    }

    #[test]
    fn runtime_default_is_a_valid_oci_profile_gated_by_capabilities() {
        let caps: Vec<String> = crate::runtime::spec::DEFAULT_CAPS.iter().map(|s| s.to_string()).collect();
        let v = runtime_default(&caps);
        let parsed: libcontainer::oci_spec::runtime::LinuxSeccomp = serde_json::from_value(v.clone()).unwrap();
        assert_eq!(parsed.default_errno_ret(), Some(EPERM));
        let names: Vec<&str> = v["syscalls"][0]["names"].as_array().unwrap().iter().map(|n| n.as_str().unwrap()).collect();
        for blocked in ["keyctl", "add_key", "request_key", "unshare", "mount", "setns", "userfaultfd", "io_uring_setup", "reboot"] {
            assert!(!names.contains(&blocked), "{blocked} allowed by default");
        }
        assert!(names.contains(&"chroot"), "CAP_SYS_CHROOT is a default capability");
        assert!(v["syscalls"].as_array().unwrap().iter().any(|s| s["names"][0] == "clone" && s["args"][0]["op"] == "SCMP_CMP_MASKED_EQ"));

        let mut admin = caps.clone();
        admin.push("CAP_SYS_ADMIN".into());
        let v = runtime_default(&admin);
        let names: Vec<&str> = v["syscalls"][0]["names"].as_array().unwrap().iter().map(|n| n.as_str().unwrap()).collect();
        assert!(names.contains(&"unshare") && names.contains(&"mount") && names.contains(&"clone3"));
        assert!(!v["syscalls"].as_array().unwrap().iter().any(|s| s["names"][0] == "clone3" && s["action"] == "SCMP_ACT_ERRNO"));
        assert!(!names.contains(&"keyctl"));
    }

    #[test]
    fn localhost_profiles_come_from_the_profile_root() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("profiles")).unwrap();
        std::fs::write(dir.path().join("profiles/audit.json"), r#"{"defaultAction": "SCMP_ACT_LOG"}"#).unwrap();
        let v = oci(Some(&p("Localhost", Some("profiles/audit.json"))), &[], dir.path()).unwrap().unwrap();
        assert_eq!(v["defaultAction"], "SCMP_ACT_LOG");
        let e = oci(Some(&p("Localhost", Some("profiles/none.json"))), &[], dir.path()).unwrap_err();
        assert!(e.starts_with("cannot load seccomp profile") && e.contains("none.json"), "{e}");
        assert!(oci(Some(&p("Localhost", Some("../x.json"))), &[], dir.path()).unwrap_err().contains("'..'"));
        std::fs::write(dir.path().join("bad.json"), r#"{"defaultAction": "SCMP_ACT_MAYBE"}"#).unwrap();
        assert!(oci(Some(&p("Localhost", Some("bad.json"))), &[], dir.path()).unwrap_err().contains("not a valid OCI seccomp profile"));
        assert_eq!(oci(Some(&p("Unconfined", None)), &[], dir.path()).unwrap(), None);
        assert_eq!(oci(None, &[], dir.path()).unwrap(), None);
        assert!(oci(Some(&p("Weird", None)), &[], dir.path()).unwrap_err().contains("unsupported seccomp profile type"));
    }
}
