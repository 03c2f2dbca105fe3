use serde_json::json;

use super::{help, next_tok, outln, unknown, Tok};
use crate::container::Globals;
use crate::error::Result;
use crate::linux::{caps, mount};

const USAGE: &str = "usage: reno features\n  print what this build of reno recognises (runtime-spec features document)\n";

#[inline(never)] // keeps each command's locals out of the dispatcher's stack frame
pub fn main(_g: &Globals, p: &mut lexopt::Parser) -> Result<i32> {
    if let Some(t) = next_tok(p)? {
        return match t {
            Tok::Flag(f) if f == "-h" || f == "--help" => help(USAGE),
            t => Err(unknown(t)),
        };
    }
    outln!("{}", crate::spec::json_text(&document(), true));
    Ok(0)
}

/// What reno recognises at build time (not what this host supports), per features.md.
pub fn document() -> serde_json::Value {
    json!({
        "ociVersionMin": "1.0.0",
        "ociVersionMax": "1.2.0",
        "hooks": ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"],
        "mountOptions": mount::known_option_names(),
        "linux": {
            "namespaces": ["cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"],
            "capabilities": caps::NAMES,
            "cgroup": {"v1": true, "v2": true, "systemd": false, "systemdUser": false, "rdma": false},
            "seccomp": {
                "enabled": true,
                "actions": crate::seccomp::ACTIONS,
                "operators": crate::seccomp::OPERATORS,
                "archs": crate::seccomp::ARCHS,
                "knownFlags": crate::seccomp::FLAGS,
                "supportedFlags": crate::seccomp::FLAGS,
            },
            "apparmor": {"enabled": crate::container::lsm::apparmor_enabled()},
            "selinux": {"enabled": crate::container::lsm::selinux_enabled()},
            "intelRdt": {"enabled": false},
            "mountExtensions": {"idmap": {"enabled": crate::linux::idmap::kernel_supported()}},
        },
        "annotations": {
            "org.opencontainers.runc.checkpoint.enabled": "false",
            "io.github.reno.version": env!("CARGO_PKG_VERSION"),
        },
        "potentiallyUnsafeConfigAnnotations": [],
    })
}
