//! config.json → `oci_spec::runtime::Spec` by hand, from a parsed `serde_json::Value`.
//!
//! oci-spec's derived `Deserialize` for the whole runtime spec cost ~167 KiB of the static
//! aarch64 binary (every struct's visitor instantiated for serde_json's byte reader, plus
//! regex-lite for one field); this walk fills the same types through their setters for a
//! fraction of that (targets/README.md, "Size"). It follows the derive's rules field by field:
//! JSON names, `null` = absent for optional fields, defaults for fields the derive defaults,
//! "missing field" for required ones, exact integer ranges, enums through oci-spec's own
//! `Deserialize` (so every spelling it accepts is accepted), execCPUAffinity validated like
//! oci-spec does. The derive stays the oracle: tests/spec_oracle.rs decodes every config in
//! the repo and crafted edge cases both ways and compares. Known, deliberate differences
//! (documented and tested there): the Windows, Solaris, VM and z/OS sections are not read
//! (always `None`; reno runs containers on Linux only), a struct written as a JSON array
//! (serde's positional form) is an error, and a duplicate key takes the last value (as
//! runc's Go decoder does) where the derive reports "duplicate field".

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

use oci_spec::runtime::*;
use serde_json::{Map, Value};

use crate::error::{Error, Kind, Result};

/// A conversion of one JSON value at a field path.
type Conv<T> = fn(&Value, P) -> R<T>;

/// Errors inside the walk: one pointer, so every `Result` here is no bigger than its value
/// (reno's `Error` is ~100 bytes, and moving it through ~170 `?`s cost KiBs of code).
#[allow(clippy::box_collection)] // the point: a thin pointer, not String's three words
pub struct E(std::boxed::Box<String>);
type R<T> = std::result::Result<T, E>;

impl E {
    fn into_error(self, step: &str) -> Error {
        Error::new(Kind::Invalid, step).detail(*self.0)
    }
}

/// Where a value is, built on the stack as the walk descends and only rendered into text
/// for an error message (no string work on the success path).
#[derive(Clone, Copy)]
pub enum P<'a> {
    Root(&'a str),
    Key(&'a P<'a>, &'a str),
    Idx(&'a P<'a>, usize),
}

impl P<'_> {
    fn render(self, out: &mut String) {
        match self {
            P::Root(r) => out.push_str(r),
            P::Key(up, k) => {
                up.render(out);
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            P::Idx(up, i) => {
                up.render(out);
                out.push_str(&format!("[{i}]"));
            }
        }
    }
}

fn bad(p: P, msg: &str) -> E {
    let mut s = String::new();
    p.render(&mut s);
    if s.is_empty() {
        s.push_str("config");
    }
    s.push_str(": ");
    s.push_str(msg);
    E(std::boxed::Box::new(s))
}

/// One JSON object being read, with its path for error messages.
struct O<'a> {
    m: &'a Map<String, Value>,
    p: P<'a>,
}

impl<'a> O<'a> {
    fn new(v: &'a Value, p: P<'a>) -> R<O<'a>> {
        match v {
            Value::Object(m) => Ok(O { m, p }),
            _ => Err(bad(p, "expected an object")),
        }
    }

    /// Optional field: missing or `null` is `None`.
    fn opt<T>(&self, k: &str, f: Conv<T>) -> R<Option<T>> {
        match self.m.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => f(v, P::Key(&self.p, k)).map(Some),
        }
    }

    /// Field with a default: missing is the default, `null` is an error (as in the derive).
    fn dflt<T: Default>(&self, k: &str, f: Conv<T>) -> R<T> {
        match self.m.get(k) {
            None => Ok(T::default()),
            Some(v) => f(v, P::Key(&self.p, k)),
        }
    }

    /// Required field.
    fn need<T>(&self, k: &str, f: Conv<T>) -> R<T> {
        match self.m.get(k) {
            None => Err(bad(P::Key(&self.p, k), "missing field")),
            Some(v) => f(v, P::Key(&self.p, k)),
        }
    }
}

fn string(v: &Value, p: P) -> R<String> {
    match v {
        Value::String(s) => Ok(s.clone()),
        _ => Err(bad(p, "expected a string")),
    }
}

fn path(v: &Value, p: P) -> R<PathBuf> {
    string(v, p).map(PathBuf::from)
}

fn boolean(v: &Value, p: P) -> R<bool> {
    v.as_bool().ok_or_else(|| bad(p, "expected true or false"))
}

/// An integer in `min..=max` (JSON floats are not integers here, as in serde).
fn int(v: &Value, p: P, min: i128, max: i128) -> R<i128> {
    let n = match v {
        Value::Number(n) => n.as_u64().map(i128::from).or(n.as_i64().map(i128::from)),
        _ => None,
    };
    match n {
        Some(n) if (min..=max).contains(&n) => Ok(n),
        Some(_) => Err(bad(p, &format!("integer {v} out of range"))),
        None => Err(bad(p, &format!("expected an integer, not {v}"))),
    }
}

fn u64_(v: &Value, p: P) -> R<u64> {
    int(v, p, 0, u64::MAX.into()).map(|n| n as u64)
}
fn i64_(v: &Value, p: P) -> R<i64> {
    int(v, p, i64::MIN.into(), i64::MAX.into()).map(|n| n as i64)
}
fn u32_(v: &Value, p: P) -> R<u32> {
    int(v, p, 0, u32::MAX.into()).map(|n| n as u32)
}
fn i32_(v: &Value, p: P) -> R<i32> {
    int(v, p, i32::MIN.into(), i32::MAX.into()).map(|n| n as i32)
}
fn u16_(v: &Value, p: P) -> R<u16> {
    int(v, p, 0, u16::MAX.into()).map(|n| n as u16)
}
fn usize_(v: &Value, p: P) -> R<usize> {
    int(v, p, 0, usize::MAX as i128).map(|n| n as usize)
}

/// Enums (and Capability's own spelling rules) through oci-spec's `Deserialize`: exactly the
/// names the derive accepts, and small (a unit enum's visitor is a string match). One
/// function per type: naming serde's traits in a bound would need serde as a dependency.
macro_rules! enums {
    ($($f:ident: $t:ty),* $(,)?) => {$(
        fn $f(v: &Value, p: P) -> R<$t> {
            serde_json::from_value(v.clone()).map_err(|e| bad(p, &e.to_string()))
        }
    )*};
}
enums!(
    capability: Capability,
    rlimit_type: PosixRlimitType,
    io_class: IOPriorityClass,
    sched_policy: LinuxSchedulerPolicy,
    sched_flag: LinuxSchedulerFlag,
    ns_type: LinuxNamespaceType,
    dev_type: LinuxDeviceType,
    action: LinuxSeccompAction,
    arch: Arch,
    filter_flag: LinuxSeccompFilterFlag,
    operator: LinuxSeccompOperator,
    mempolicy_mode: MemoryPolicyModeType,
    mempolicy_flag: MemoryPolicyFlagType,
    domain: LinuxPersonalityDomain,
);

fn list<T>(v: &Value, p: P, f: Conv<T>) -> R<Vec<T>> {
    let a = v.as_array().ok_or_else(|| bad(p, "expected an array"))?;
    a.iter()
        .enumerate()
        .map(|(i, e)| f(e, P::Idx(&p, i)))
        .collect()
}

fn map<T>(v: &Value, p: P, f: Conv<T>) -> R<HashMap<String, T>> {
    let o = O::new(v, p)?;
    o.m.iter()
        .map(|(k, e)| Ok((k.clone(), f(e, P::Key(&o.p, k))?)))
        .collect()
}

/// The types without setters are made by their builders, which check nothing here.
fn built<T>(r: std::result::Result<T, oci_spec::OciSpecError>, p: P) -> R<T> {
    r.map_err(|e| bad(p, &e.to_string()))
}

fn strings(v: &Value, p: P) -> R<Vec<String>> {
    list(v, p, string)
}
fn str_map(v: &Value, p: P) -> R<HashMap<String, String>> {
    map(v, p, string)
}
fn id_maps(v: &Value, p: P) -> R<Vec<LinuxIdMapping>> {
    list(v, p, id_map)
}

/// config.json's document as a `Spec`.
pub fn spec(v: &Value) -> Result<Spec> {
    spec_at(v, P::Root("")).map_err(|e| e.into_error("parse config"))
}

/// process.json (`exec --process`) as a `Process`.
pub fn process_doc(v: &Value) -> Result<Process> {
    process(v, P::Root("process")).map_err(|e| e.into_error("parse process"))
}

/// `update --resources`' document as `LinuxResources`.
pub fn resources_doc(v: &Value) -> Result<LinuxResources> {
    resources(v, P::Root("resources")).map_err(|e| e.into_error("parse resources"))
}

fn spec_at(v: &Value, p: P) -> R<Spec> {
    let o = O::new(v, p)?;
    let mut s = Spec::default();
    s.set_version(o.dflt("ociVersion", string)?)
        .set_root(o.opt("root", root)?)
        .set_mounts(o.opt("mounts", |v, p| list(v, p, mount))?)
        .set_process(o.opt("process", process)?)
        .set_hostname(o.opt("hostname", string)?)
        .set_domainname(o.opt("domainname", string)?)
        .set_hooks(o.opt("hooks", hooks)?)
        .set_annotations(o.opt("annotations", str_map)?)
        .set_linux(o.opt("linux", linux)?)
        .set_solaris(None)
        .set_windows(None)
        .set_vm(None)
        .set_zos(None)
        .set_uid_mappings(o.opt("uidMappings", id_maps)?)
        .set_gid_mappings(o.opt("gidMappings", id_maps)?);
    Ok(s)
}

fn root(v: &Value, p: P) -> R<Root> {
    let o = O::new(v, p)?;
    let mut r = Root::default();
    r.set_path(o.dflt("path", path)?)
        .set_readonly(o.opt("readonly", boolean)?);
    Ok(r)
}

fn mount(v: &Value, p: P) -> R<Mount> {
    let o = O::new(v, p)?;
    let mut m = Mount::default();
    m.set_destination(o.need("destination", path)?)
        .set_typ(o.opt("type", string)?)
        .set_source(o.opt("source", path)?)
        .set_options(o.opt("options", strings)?)
        .set_uid_mappings(o.opt("uidMappings", id_maps)?)
        .set_gid_mappings(o.opt("gidMappings", id_maps)?);
    Ok(m)
}

fn id_map(v: &Value, p: P) -> R<LinuxIdMapping> {
    let o = O::new(v, p)?;
    let b = LinuxIdMappingBuilder::default()
        .host_id(o.dflt("hostID", u32_)?)
        .container_id(o.dflt("containerID", u32_)?)
        .size(o.dflt("size", u32_)?);
    built(b.build(), p)
}

fn process(v: &Value, p: P) -> R<Process> {
    let o = O::new(v, p)?;
    let mut r = Process::default();
    r.set_terminal(o.opt("terminal", boolean)?)
        .set_console_size(o.opt("consoleSize", console_size)?)
        .set_user(o.need("user", user)?)
        .set_args(o.opt("args", strings)?)
        .set_command_line(o.opt("commandLine", string)?)
        .set_env(o.opt("env", strings)?)
        .set_cwd(o.need("cwd", path)?)
        .set_capabilities(o.opt("capabilities", capabilities)?)
        .set_rlimits(o.opt("rlimits", |v, p| list(v, p, rlimit))?)
        .set_no_new_privileges(o.opt("noNewPrivileges", boolean)?)
        .set_apparmor_profile(o.opt("apparmorProfile", string)?)
        .set_oom_score_adj(o.opt("oomScoreAdj", i32_)?)
        .set_selinux_label(o.opt("selinuxLabel", string)?)
        .set_io_priority(o.opt("ioPriority", io_priority)?)
        .set_scheduler(o.opt("scheduler", scheduler)?)
        .set_exec_cpu_affinity(o.opt("execCPUAffinity", cpu_affinity)?);
    Ok(r)
}

fn console_size(v: &Value, p: P) -> R<oci_spec::runtime::Box> {
    let o = O::new(v, p)?;
    let b = BoxBuilder::default()
        .height(o.dflt("height", u64_)?)
        .width(o.dflt("width", u64_)?);
    built(b.build(), p)
}

fn user(v: &Value, p: P) -> R<User> {
    let o = O::new(v, p)?;
    let mut u = User::default();
    u.set_uid(o.dflt("uid", u32_)?)
        .set_gid(o.dflt("gid", u32_)?)
        .set_umask(o.opt("umask", u32_)?)
        .set_additional_gids(o.opt("additionalGids", |v, p| list(v, p, u32_))?)
        .set_username(o.opt("username", string)?);
    Ok(u)
}

fn cap_set(v: &Value, p: P) -> R<Capabilities> {
    let a = v.as_array().ok_or_else(|| bad(p, "expected an array"))?;
    a.iter()
        .map(|c| capability(c, p))
        .collect::<R<HashSet<_>>>()
}

fn capabilities(v: &Value, p: P) -> R<LinuxCapabilities> {
    let o = O::new(v, p)?;
    let mut c = LinuxCapabilities::default();
    c.set_bounding(o.opt("bounding", cap_set)?)
        .set_effective(o.opt("effective", cap_set)?)
        .set_inheritable(o.opt("inheritable", cap_set)?)
        .set_permitted(o.opt("permitted", cap_set)?)
        .set_ambient(o.opt("ambient", cap_set)?);
    Ok(c)
}

fn rlimit(v: &Value, p: P) -> R<PosixRlimit> {
    let o = O::new(v, p)?;
    let b = PosixRlimitBuilder::default()
        .typ(o.need("type", rlimit_type)?)
        .hard(o.dflt("hard", u64_)?)
        .soft(o.dflt("soft", u64_)?);
    built(b.build(), p)
}

fn io_priority(v: &Value, p: P) -> R<LinuxIOPriority> {
    let o = O::new(v, p)?;
    let b = LinuxIOPriorityBuilder::default()
        .class(o.dflt("class", io_class)?)
        .priority(o.dflt("priority", i64_)?);
    built(b.build(), p)
}

fn scheduler(v: &Value, p: P) -> R<Scheduler> {
    let o = O::new(v, p)?;
    let mut s = Scheduler::default();
    s.set_policy(o.need("policy", sched_policy)?)
        .set_nice(o.opt("nice", i32_)?)
        .set_priority(o.opt("priority", i32_)?)
        .set_flags(o.opt("flags", |v, p| list(v, p, sched_flag))?)
        .set_runtime(o.opt("runtime", u64_)?)
        .set_deadline(o.opt("deadline", u64_)?)
        .set_period(o.opt("period", u64_)?);
    Ok(s)
}

/// oci-spec's check, `^(\d+(-\d+)?)(,\d+(-\d+)?)*$` (ASCII digits, as its regex-lite shim
/// matched them), without a regex engine.
fn cpu_list(v: &Value, p: P) -> R<String> {
    let s = string(v, p)?;
    let num = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    let ok = s.split(',').all(|part| match part.split_once('-') {
        Some((a, b)) => num(a) && num(b),
        None => num(part),
    });
    if !ok {
        return Err(bad(p, &format!("Invalid execCPUAffinity format: {s}")));
    }
    Ok(s)
}

fn cpu_affinity(v: &Value, p: P) -> R<ExecCPUAffinity> {
    let o = O::new(v, p)?;
    let mut a = ExecCPUAffinity::default();
    a.set_initial(o.opt("initial", cpu_list)?)
        .set_cpu_affinity_final(o.opt("final", cpu_list)?);
    Ok(a)
}

fn hooks(v: &Value, p: P) -> R<Hooks> {
    let o = O::new(v, p)?;
    let l = |k: &str| o.opt(k, |v, p| list(v, p, hook));
    let mut h = Hooks::default();
    #[allow(deprecated)]
    h.set_prestart(l("prestart")?)
        .set_create_runtime(l("createRuntime")?)
        .set_create_container(l("createContainer")?)
        .set_start_container(l("startContainer")?)
        .set_poststart(l("poststart")?)
        .set_poststop(l("poststop")?);
    Ok(h)
}

fn hook(v: &Value, p: P) -> R<Hook> {
    let o = O::new(v, p)?;
    let mut h = Hook::default();
    h.set_path(o.need("path", path)?)
        .set_args(o.opt("args", strings)?)
        .set_env(o.opt("env", strings)?)
        .set_timeout(o.opt("timeout", i64_)?);
    Ok(h)
}

fn linux(v: &Value, p: P) -> R<Linux> {
    let o = O::new(v, p)?;
    let mut l = Linux::default();
    l.set_net_devices(o.opt("netDevices", |v, p| map(v, p, net_device))?)
        .set_uid_mappings(o.opt("uidMappings", id_maps)?)
        .set_gid_mappings(o.opt("gidMappings", id_maps)?)
        .set_sysctl(o.opt("sysctl", str_map)?)
        .set_resources(o.opt("resources", resources)?)
        .set_cgroups_path(o.opt("cgroupsPath", path)?)
        .set_namespaces(o.opt("namespaces", |v, p| list(v, p, namespace))?)
        .set_devices(o.opt("devices", |v, p| list(v, p, device))?)
        .set_seccomp(o.opt("seccomp", seccomp)?)
        .set_rootfs_propagation(o.opt("rootfsPropagation", string)?)
        .set_masked_paths(o.opt("maskedPaths", strings)?)
        .set_readonly_paths(o.opt("readonlyPaths", strings)?)
        .set_mount_label(o.opt("mountLabel", string)?)
        .set_intel_rdt(o.opt("intelRdt", intel_rdt)?)
        .set_memory_policy(o.opt("memoryPolicy", memory_policy)?)
        .set_personality(o.opt("personality", personality)?)
        .set_time_offsets(o.opt("timeOffsets", |v, p| map(v, p, time_offset))?);
    Ok(l)
}

fn net_device(v: &Value, p: P) -> R<LinuxNetDevice> {
    let o = O::new(v, p)?;
    let mut d = LinuxNetDevice::default();
    d.set_name(o.opt("name", string)?);
    Ok(d)
}

fn namespace(v: &Value, p: P) -> R<LinuxNamespace> {
    let o = O::new(v, p)?;
    let mut n = LinuxNamespace::default();
    n.set_typ(o.need("type", ns_type)?)
        .set_path(o.opt("path", path)?);
    Ok(n)
}

fn device(v: &Value, p: P) -> R<LinuxDevice> {
    let o = O::new(v, p)?;
    let mut d = LinuxDevice::default();
    d.set_path(o.dflt("path", path)?)
        .set_typ(o.need("type", dev_type)?)
        .set_major(o.dflt("major", i64_)?)
        .set_minor(o.dflt("minor", i64_)?)
        .set_file_mode(o.opt("fileMode", u32_)?)
        .set_uid(o.opt("uid", u32_)?)
        .set_gid(o.opt("gid", u32_)?);
    Ok(d)
}

fn resources(v: &Value, p: P) -> R<LinuxResources> {
    let o = O::new(v, p)?;
    let mut r = LinuxResources::default();
    r.set_devices(o.opt("devices", |v, p| list(v, p, device_cgroup))?)
        .set_memory(o.opt("memory", memory)?)
        .set_cpu(o.opt("cpu", cpu)?)
        .set_pids(o.opt("pids", pids)?)
        .set_block_io(o.opt("blockIO", block_io)?)
        .set_hugepage_limits(o.opt("hugepageLimits", |v, p| list(v, p, hugepage))?)
        .set_network(o.opt("network", network)?)
        .set_rdma(o.opt("rdma", |v, p| map(v, p, rdma))?)
        .set_unified(o.opt("unified", str_map)?);
    Ok(r)
}

fn device_cgroup(v: &Value, p: P) -> R<LinuxDeviceCgroup> {
    let o = O::new(v, p)?;
    let mut d = LinuxDeviceCgroup::default();
    d.set_allow(o.dflt("allow", boolean)?)
        .set_typ(o.opt("type", dev_type)?)
        .set_major(o.opt("major", i64_)?)
        .set_minor(o.opt("minor", i64_)?)
        .set_access(o.opt("access", string)?);
    Ok(d)
}

fn memory(v: &Value, p: P) -> R<LinuxMemory> {
    let o = O::new(v, p)?;
    let mut m = LinuxMemory::default();
    m.set_limit(o.opt("limit", i64_)?)
        .set_reservation(o.opt("reservation", i64_)?)
        .set_swap(o.opt("swap", i64_)?)
        .set_kernel(o.opt("kernel", i64_)?)
        .set_kernel_tcp(o.opt("kernelTCP", i64_)?)
        .set_swappiness(o.opt("swappiness", u64_)?)
        .set_disable_oom_killer(o.opt("disableOOMKiller", boolean)?)
        .set_use_hierarchy(o.opt("useHierarchy", boolean)?)
        .set_check_before_update(o.opt("checkBeforeUpdate", boolean)?);
    Ok(m)
}

fn cpu(v: &Value, p: P) -> R<LinuxCpu> {
    let o = O::new(v, p)?;
    let mut c = LinuxCpu::default();
    c.set_shares(o.opt("shares", u64_)?)
        .set_quota(o.opt("quota", i64_)?)
        .set_idle(o.opt("idle", i64_)?)
        .set_burst(o.opt("burst", u64_)?)
        .set_period(o.opt("period", u64_)?)
        .set_realtime_runtime(o.opt("realtimeRuntime", i64_)?)
        .set_realtime_period(o.opt("realtimePeriod", u64_)?)
        .set_cpus(o.opt("cpus", string)?)
        .set_mems(o.opt("mems", string)?);
    Ok(c)
}

fn pids(v: &Value, p: P) -> R<LinuxPids> {
    let o = O::new(v, p)?;
    let mut r = LinuxPids::default();
    r.set_limit(o.dflt("limit", i64_)?);
    Ok(r)
}

fn block_io(v: &Value, p: P) -> R<LinuxBlockIo> {
    let o = O::new(v, p)?;
    let t = |k: &str| o.opt(k, |v, p| list(v, p, throttle));
    let mut b = LinuxBlockIo::default();
    b.set_weight(o.opt("weight", u16_)?)
        .set_leaf_weight(o.opt("leafWeight", u16_)?)
        .set_weight_device(o.opt("weightDevice", |v, p| list(v, p, weight_device))?)
        .set_throttle_read_bps_device(t("throttleReadBpsDevice")?)
        .set_throttle_write_bps_device(t("throttleWriteBpsDevice")?)
        .set_throttle_read_iops_device(t("throttleReadIOPSDevice")?)
        .set_throttle_write_iops_device(t("throttleWriteIOPSDevice")?);
    Ok(b)
}

fn weight_device(v: &Value, p: P) -> R<LinuxWeightDevice> {
    let o = O::new(v, p)?;
    let mut b = LinuxWeightDeviceBuilder::default()
        .major(o.dflt("major", i64_)?)
        .minor(o.dflt("minor", i64_)?);
    if let Some(w) = o.opt("weight", u16_)? {
        b = b.weight(w);
    }
    if let Some(w) = o.opt("leafWeight", u16_)? {
        b = b.leaf_weight(w);
    }
    built(b.build(), p)
}

fn throttle(v: &Value, p: P) -> R<LinuxThrottleDevice> {
    let o = O::new(v, p)?;
    let b = LinuxThrottleDeviceBuilder::default()
        .major(o.dflt("major", i64_)?)
        .minor(o.dflt("minor", i64_)?)
        .rate(o.dflt("rate", u64_)?);
    built(b.build(), p)
}

fn hugepage(v: &Value, p: P) -> R<LinuxHugepageLimit> {
    let o = O::new(v, p)?;
    let mut h = LinuxHugepageLimit::default();
    h.set_page_size(o.dflt("pageSize", string)?)
        .set_limit(o.dflt("limit", i64_)?);
    Ok(h)
}

fn network(v: &Value, p: P) -> R<LinuxNetwork> {
    let o = O::new(v, p)?;
    let mut n = LinuxNetwork::default();
    n.set_class_id(o.opt("classID", u32_)?)
        .set_priorities(o.opt("priorities", |v, p| list(v, p, priority))?);
    Ok(n)
}

fn priority(v: &Value, p: P) -> R<LinuxInterfacePriority> {
    let o = O::new(v, p)?;
    let mut r = LinuxInterfacePriority::default();
    r.set_name(o.dflt("name", string)?)
        .set_priority(o.dflt("priority", u32_)?);
    Ok(r)
}

fn rdma(v: &Value, p: P) -> R<LinuxRdma> {
    let o = O::new(v, p)?;
    let mut b = LinuxRdmaBuilder::default();
    if let Some(n) = o.opt("hcaHandles", u32_)? {
        b = b.hca_handles(n);
    }
    if let Some(n) = o.opt("hcaObjects", u32_)? {
        b = b.hca_objects(n);
    }
    built(b.build(), p)
}

fn seccomp(v: &Value, p: P) -> R<LinuxSeccomp> {
    let o = O::new(v, p)?;
    let mut s = LinuxSeccomp::default();
    s.set_default_action(o.need("defaultAction", action)?)
        .set_default_errno_ret(o.opt("defaultErrnoRet", u32_)?)
        .set_architectures(o.opt("architectures", |v, p| list(v, p, arch))?)
        .set_flags(o.opt("flags", |v, p| list(v, p, filter_flag))?)
        .set_listener_path(o.opt("listenerPath", path)?)
        .set_listener_metadata(o.opt("listenerMetadata", string)?)
        .set_syscalls(o.opt("syscalls", |v, p| list(v, p, syscall))?);
    Ok(s)
}

fn syscall(v: &Value, p: P) -> R<LinuxSyscall> {
    let o = O::new(v, p)?;
    let mut s = LinuxSyscall::default();
    s.set_names(o.need("names", strings)?)
        .set_action(o.need("action", action)?)
        .set_errno_ret(o.opt("errnoRet", u32_)?)
        .set_args(o.opt("args", |v, p| list(v, p, seccomp_arg))?);
    Ok(s)
}

fn seccomp_arg(v: &Value, p: P) -> R<LinuxSeccompArg> {
    let o = O::new(v, p)?;
    let mut b = LinuxSeccompArgBuilder::default()
        .index(o.need("index", usize_)?)
        .value(o.need("value", u64_)?)
        .op(o.need("op", operator)?);
    if let Some(n) = o.opt("valueTwo", u64_)? {
        b = b.value_two(n);
    }
    built(b.build(), p)
}

fn intel_rdt(v: &Value, p: P) -> R<LinuxIntelRdt> {
    let o = O::new(v, p)?;
    let mut r = LinuxIntelRdt::default();
    #[allow(deprecated)]
    r.set_clos_id(o.opt("closID", string)?)
        .set_schemata(o.opt("schemata", strings)?)
        .set_l3_cache_schema(o.opt("l3CacheSchema", string)?)
        .set_mem_bw_schema(o.opt("memBwSchema", string)?)
        .set_enable_cmt(o.opt("enableCmt", boolean)?)
        .set_enable_mbm(o.opt("enableMbm", boolean)?)
        .set_enable_monitoring(o.opt("enableMonitoring", boolean)?);
    Ok(r)
}

fn memory_policy(v: &Value, p: P) -> R<LinuxMemoryPolicy> {
    let o = O::new(v, p)?;
    let mut m = LinuxMemoryPolicy::default();
    m.set_mode(o.need("mode", mempolicy_mode)?)
        .set_nodes(o.opt("nodes", string)?)
        .set_flags(o.opt("flags", |v, p| list(v, p, mempolicy_flag))?);
    Ok(m)
}

fn personality(v: &Value, p: P) -> R<LinuxPersonality> {
    let o = O::new(v, p)?;
    let mut r = LinuxPersonality::default();
    r.set_domain(o.need("domain", domain)?)
        .set_flags(o.opt("flags", strings)?);
    Ok(r)
}

fn time_offset(v: &Value, p: P) -> R<LinuxTimeOffset> {
    let o = O::new(v, p)?;
    let mut t = LinuxTimeOffset::default();
    t.set_secs(o.opt("secs", i64_)?)
        .set_nanosecs(o.opt("nanosecs", u32_)?);
    Ok(t)
}
