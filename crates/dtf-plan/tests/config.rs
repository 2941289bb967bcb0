//! `dtf.toml` parsing, its errors, capability matching and resolution against an
//! inventory. Most cases are a TOML text and the expected summary or error message.

#![allow(clippy::unwrap_used)]

use std::cmp::Ordering;
use std::fmt::Write as _;

use dtf_plan::capability::{
    self, Kind, ResolveOptions, compare_sizes, compare_versions, fit_score, parse_requirement,
    requirement_text, resolve, resolve_with, satisfies,
};
use dtf_plan::config::{Config, ConfigError, TestIndex, TestPattern, parse_duration};
use dtf_plan::model::{PlanTest, Pool, Problem, ReqOp};
use proptest::prelude::*;

/// A compact, stable rendering of everything a config holds.
fn summary(c: &Config) -> String {
    let mut out = String::new();
    let p = &c.plan;
    if p != &Default::default() {
        writeln!(
            out,
            "plan strategy={:?} shards={:?} unit={:?} waves={:?} max_batch={:?} deadline={:?} startup={:?}",
            p.strategy, p.shards, p.unit, p.waves, p.max_batch, p.deadline, p.startup
        )
        .unwrap();
    }
    for pool in &c.pools {
        let caps: Vec<String> = pool
            .capabilities
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        writeln!(
            out,
            "pool {} labels={:?} runners={} speed={} startup={:?} quota={:?} caps=[{}]",
            pool.name,
            pool.labels,
            pool.runners,
            pool.speed,
            pool.startup,
            pool.quota_minutes,
            caps.join(" ")
        )
        .unwrap();
    }
    let pats = |ps: &[TestPattern]| {
        ps.iter()
            .map(TestPattern::as_str)
            .collect::<Vec<_>>()
            .join(" ")
    };
    for r in &c.requires {
        let needs: Vec<String> = r.needs.iter().map(requirement_text).collect();
        writeln!(
            out,
            "require [{}] needs [{}]",
            pats(&r.tests),
            needs.join(", ")
        )
        .unwrap();
    }
    for d in &c.dependencies {
        writeln!(
            out,
            "dependency [{}] -> [{}]",
            pats(&d.before),
            pats(&d.after)
        )
        .unwrap();
    }
    for r in &c.priorities {
        writeln!(out, "priority [{}] = {}", pats(&r.tests), r.priority).unwrap();
    }
    for g in &c.groups {
        writeln!(
            out,
            "group {} [{}] share={} quota={:?}",
            g.name,
            pats(&g.tests),
            g.share,
            g.quota_minutes
        )
        .unwrap();
    }
    out
}

fn check(toml: &str, expected: &str) {
    let got = match Config::from_toml(toml, "dtf.toml") {
        Ok(c) => summary(&c),
        Err(e) => format!("error: {e}\n"),
    };
    assert_eq!(got.trim_end(), expected.trim(), "for:\n{toml}");
}

#[test]
fn every_section_is_parsed() {
    check(
        r#"
[plan]
strategy = "deadline"
shards = 12
unit = "file"
waves = true
max_batch = 50
deadline = "1h30m"
startup = 7.5

[[pool]]
name = "linux"
labels = ["ubuntu-latest", "x64"]
runners = 8
startup = "30s"
quota_minutes = 600
capabilities = { os = "Linux", arch = "amd64", cpu.cores = 4, memory = "16GB" }

[[pool]]
name = "gpu"
labels = ["self-hosted"]
runners = 2
speed = 2
[pool.capabilities]
cuda = "12.4"
[pool.capabilities.gpu]
vendor = "NVIDIA"
memory = "24GiB"

[[require]]
tests = ["gpu::*", "train::big"]
needs = ["gpu.vendor = nvidia", "cuda >= 12.1"]

[[require]]
tests = "web::*"
needs = "browser.chrome.features has WebGPU"

[[dependency]]
before = "db::migrate"
after = ["db::*", "api::*"]

[[priority]]
tests = ["smoke::*"]
priority = 10

[[group]]
name = "e2e"
tests = ["e2e::*"]
share = 2.5
quota_minutes = 30
"#,
        r#"
plan strategy=Some("deadline") shards=Some(12) unit=Some(File) waves=Some(true) max_batch=Some(50) deadline=Some(5400.0) startup=Some(7.5)
pool linux labels=["ubuntu-latest", "x64"] runners=8 speed=1 startup=Some(30.0) quota=Some(600.0) caps=[arch=x86_64 cpu.cores=4 memory=16GB os=linux]
pool gpu labels=["self-hosted"] runners=2 speed=2 startup=None quota=None caps=[cuda=12.4 gpu.memory=24GiB gpu.vendor=nvidia]
require [gpu::* train::big] needs [gpu.vendor = nvidia, cuda >= 12.1]
require [web::*] needs [browser.chrome.features has webgpu]
dependency [db::migrate] -> [db::* api::*]
priority [smoke::*] = 10
group e2e [e2e::*] share=2.5 quota=Some(30.0)
"#,
    );
}

#[test]
fn capability_spellings_flatten_alike() {
    let expected = "pool p labels=[] runners=1 speed=1 startup=None quota=None caps=[arch=arm64 browser.chrome=126.0 browser.chrome.features=webgpu,webnn gpu.vendor=amd os=macos]";
    for caps in [
        // Nested tables.
        "[pool.capabilities]\nos = 'darwin'\narch = 'aarch64'\n[pool.capabilities.gpu]\nvendor = 'ATI'\n[pool.capabilities.browser.chrome]\nversion = '126.0'\nfeatures = ['WebGPU', 'webnn']\n",
        // Dotted keys.
        "[pool.capabilities]\nos = 'osx'\narch = 'arm64'\ngpu.vendor = 'amd'\nbrowser.chrome.version = '126.0'\nbrowser.chrome.features = ['webgpu', 'webnn']\n",
        // One inline table, keys in another case.
        "capabilities = { OS = 'macOS', Arch = 'ARMv8', gpu = { vendor = 'AMD' }, browser.chrome = { version = '126.0', features = ['webgpu', 'webnn'] } }\n",
    ] {
        check(
            &format!("[[pool]]\nname = 'p'\nrunners = 1\n{caps}"),
            expected,
        );
    }
}

#[test]
fn durations() {
    for (text, secs) in [
        ("10m", 600.0),
        ("90s", 90.0),
        ("1h30m", 5400.0),
        ("1h 5m 3s", 3903.0),
        ("1.5m", 90.0),
        ("250ms", 0.25),
        ("45", 45.0),
        ("2 hours", 7200.0),
    ] {
        assert_eq!(parse_duration(text), Ok(secs), "{text}");
    }
    for bad in ["", "-5m", "ten minutes", "5x", "m5"] {
        assert!(parse_duration(bad).is_err(), "{bad} should not parse");
    }
    check(
        "[plan]\ndeadline = 600\n",
        "plan strategy=None shards=None unit=None waves=None max_batch=None deadline=Some(600.0) startup=None",
    );
}

#[test]
fn errors_name_file_line_column_and_key() {
    for (toml, expected) in [
        // Malformed TOML: no key path from a parsed document, so the header and
        // the key on the line.
        (
            "[plan]\nshards = = 2\n",
            "dtf.toml:2:10: plan: shards: extra `=`, expected nothing",
        ),
        (
            "[[pool]]\nname = \"a\"\nrunners = 1\n\n[[pool]]\nname = \"b\"\nlabels = [\"x\"\n",
            "dtf.toml:7:14: pool #2: labels: unclosed array, expected `]`",
        ),
        // Wrong types.
        (
            "[[pool]]\nname = \"cpu\"\nrunners = 4\n\n[[pool]]\nname = \"gpu\"\nrunners = \"four\"\n",
            "dtf.toml:7:11: pool \"gpu\": runners: invalid type: string \"four\", expected an integer",
        ),
        (
            "[[pool]]\nname = \"cpu\"\nrunners = -1\n",
            "dtf.toml:3:11: pool \"cpu\": runners: must not be negative, got -1",
        ),
        (
            "[plan]\nwaves = \"yes\"\n",
            "dtf.toml:2:9: plan: waves: invalid type: string \"yes\", expected a boolean",
        ),
        (
            "[plan]\nunit = \"files\"\n",
            "dtf.toml:2:8: plan: unit: unknown variant `files`, expected `test` or `file`",
        ),
        (
            "[plan]\ndeadline = \"soon\"\n",
            "dtf.toml:2:12: plan: deadline: not a duration: \"soon\" (write \"10m\", \"90s\" or \"1h30m\")",
        ),
        // Unknown keys, at every level.
        (
            "[[pool]]\nname = \"a\"\nrunnres = 2\n",
            "dtf.toml:3:1: pool \"a\": runnres: unknown field `runnres`, expected one of `name`, `labels`, `runners`, `speed`, `startup`, `quota_minutes`, `capabilities`",
        ),
        (
            "[[pools]]\nname = \"a\"\n",
            "dtf.toml:1:3: pools: unknown field `pools`, expected one of `plan`, `pool`, `require`, `dependency`, `priority`, `group`",
        ),
        (
            "[plan]\nshard = 2\n",
            "dtf.toml:2:1: plan: shard: unknown field `shard`, expected one of `strategy`, `shards`, `unit`, `waves`, `max_batch`, `deadline`, `startup`",
        ),
        // Missing keys point at the table.
        (
            "[[pool]]\nrunners = 2\n",
            "dtf.toml:1:1: pool #1: missing field `name`",
        ),
        // Semantic errors.
        (
            "[[pool]]\nname = \"a\"\nrunners = 1\n[[pool]]\nname = \"a\"\nrunners = 2\n",
            "dtf.toml:5:8: pool \"a\": name: duplicate pool name \"a\" (first declared on line 2)",
        ),
        (
            "[[pool]]\nname = \"a\"\nrunners = 0\n",
            "dtf.toml:3:11: pool \"a\": runners: a pool needs at least 1 runner",
        ),
        (
            "[[pool]]\nname = \"a\"\nrunners = 1\nspeed = 0\n",
            "dtf.toml:4:9: pool \"a\": speed: speed must be a number greater than zero, got 0",
        ),
        (
            "[[pool]]\nname = \"a\"\nrunners = 1\nstartup = \"-5s\"\n",
            "dtf.toml:4:11: pool \"a\": startup: a duration must not be negative, got \"-5s\"",
        ),
        (
            "[[pool]]\nname = \"a\"\nrunners = 1\nstartup = -5\n",
            "dtf.toml:4:11: pool \"a\": startup: a duration must not be negative, got -5",
        ),
        (
            "[plan]\nshards = 0\n",
            "dtf.toml:2:10: plan: shards: shards must be at least 1",
        ),
        (
            "[plan]\ndeadline = \"0s\"\n",
            "dtf.toml:2:12: plan: deadline: deadline must be longer than zero",
        ),
        (
            "[[pool]]\nname = \"a\"\nrunners = 1\n[pool.capabilities]\ngpu.vendr = \"nvidia\"\n",
            "dtf.toml:5:5: pool \"a\": capabilities.gpu.vendr: unknown capability `gpu.vendr`: did you mean `gpu.vendor`? (known: os, arch, cpu.cores, memory, disk, gpu.vendor, gpu.model, gpu.memory, gpu.count, cuda, rocm, browser.<chrome|chromium|firefox|safari|edge>, browser.<name>.features, custom.<name>)",
        ),
        (
            "[[pool]]\nname = \"a\"\nrunners = 1\ncapabilities = { cuda = 12.10 }\n",
            "dtf.toml:4:25: pool \"a\": capabilities.cuda: write versions as strings (\"12.1\"): a TOML number loses trailing zeros",
        ),
        (
            "[[pool]]\nname = \"a\"\nrunners = 1\ncapabilities = { memory = \"16\" }\n",
            "dtf.toml:4:27: pool \"a\": capabilities.memory: not a size: \"16\" (write a number and a unit, like \"16GB\" or \"512MiB\")",
        ),
        (
            "[[pool]]\nname = \"a\"\nrunners = 1\ncapabilities = { os = [\"linux\"] }\n",
            "dtf.toml:4:23: pool \"a\": capabilities.os: expected a single value, not a list",
        ),
        (
            "[[pool]]\nname = \"a\"\nrunners = 1\ncapabilities = { cuda = \"12.1\", CUDA = \"12.1\" }\n",
            "dtf.toml:4:18: pool \"a\": capabilities.cuda: capability `cuda` is given twice (also on line 4)",
        ),
        (
            "[[require]]\ntests = \"a[\"\nneeds = \"gpu\"\n",
            "dtf.toml:2:9: require #1: tests: bad glob \"a[\": invalid range pattern at character 2 (enclose a literal `[`, `*` or `?` in brackets, like `[[]`)",
        ),
        (
            "[[require]]\ntests = []\nneeds = \"gpu\"\n",
            "dtf.toml:2:9: require #1: tests: needs at least one test id or glob",
        ),
        (
            "[[dependency]]\nbefore = \"a\"\n",
            "dtf.toml:1:1: dependency #1: missing field `after`",
        ),
        (
            "[[group]]\nname = \"a\"\ntests = \"x\"\n[[group]]\nname = \"a\"\ntests = \"y\"\n",
            "dtf.toml:5:8: group \"a\": name: duplicate group name \"a\" (first declared on line 2)",
        ),
        (
            "[[group]]\nname = \"a\"\ntests = \"x\"\nshare = -1\n",
            "dtf.toml:4:9: group \"a\": share: share must be a number greater than zero, got -1",
        ),
        (
            "[[priority]]\ntests = \"x\"\npriority = \"high\"\n",
            "dtf.toml:3:12: priority #1: priority: invalid type: string \"high\", expected i32",
        ),
    ] {
        let err = Config::from_toml(toml, "dtf.toml").unwrap_err().to_string();
        assert!(
            err.starts_with(expected),
            "for:\n{toml}\ngot:      {err}\nexpected: {expected}"
        );
    }
}

#[test]
fn bad_requirement_expressions() {
    for (expr, why) in [
        (
            "cuda >> 12",
            "unsupported operator `>>` (use `=`, `>=`, `has`, or the key alone)",
        ),
        (
            "cuda <= 12",
            "unsupported operator `<=` (use `=`, `>=`, `has`, or the key alone)",
        ),
        ("cuda 12", "expected `=`, `>=` or `has` after `cuda`"),
        (
            ">= 12",
            "expected a capability name first, like `cuda >= 12.1` or `gpu`",
        ),
        ("cuda >=", "missing the value after the operator"),
        (
            "cuda >= twelve",
            "not a version: \"twelve\" (write dot-separated numbers, like \"12.1\")",
        ),
        (
            "memory >= 16",
            "not a size: \"16\" (write a number and a unit, like \"16GB\" or \"512MiB\")",
        ),
        ("cpu.cores >= many", "expected a whole number, got \"many\""),
        ("os >= linux", "`os` has no order: use `os = linux`"),
        (
            "browser.chrome.features = webgpu",
            "`browser.chrome.features` is a list: use `browser.chrome.features has webgpu`",
        ),
        (
            "os has linux",
            "`has` looks for an item in a list (like browser.chrome.features): use `os = linux`",
        ),
        (
            "browser.chrome.features has webgpu,webnn",
            "`has` takes one item; write one requirement per item",
        ),
        (
            "gpu = nvidia",
            "`gpu` is a group of capabilities: compare one of them (like `gpu.vendor = nvidia`) or require it alone",
        ),
        (
            "browser.netscape",
            "unknown capability `browser.netscape` (known: ",
        ),
        (
            "cudaa >= 12",
            "unknown capability `cudaa`: did you mean `cuda`?",
        ),
    ] {
        let err = parse_requirement(expr).unwrap_err();
        let expected = format!("bad requirement {expr:?}: {why}");
        assert!(err.starts_with(&expected), "got {err}\nexpected {expected}");
    }
    // In a file, the error also has its place.
    let err = Config::from_toml(
        "[[require]]\ntests = \"gpu::*\"\nneeds = [\"gpu\", \"cuda >> 12\"]\n",
        "ci/dtf.toml",
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "ci/dtf.toml:3:17: require #1: needs: bad requirement \"cuda >> 12\": unsupported operator `>>` (use `=`, `>=`, `has`, or the key alone)"
    );
}

#[test]
fn requirements_parse_to_canonical_form() {
    for (expr, key, op, value) in [
        ("gpu.vendor = NVIDIA", "gpu.vendor", ReqOp::Eq, "nvidia"),
        ("gpu.vendor == 'nvidia'", "gpu.vendor", ReqOp::Eq, "nvidia"),
        ("cuda >= 12.1", "cuda", ReqOp::AtLeast, "12.1"),
        ("CUDA.version>=12.1", "cuda", ReqOp::AtLeast, "12.1"),
        ("memory >= 16GB", "memory", ReqOp::AtLeast, "16GB"),
        (
            "browser.chrome.features has WebGPU",
            "browser.chrome.features",
            ReqOp::Has,
            "webgpu",
        ),
        ("gpu", "gpu", ReqOp::Exists, ""),
        ("browser.safari", "browser.safari", ReqOp::Exists, ""),
        ("arch = amd64", "arch", ReqOp::Eq, "x86_64"),
        ("os = win", "os", ReqOp::Eq, "windows"),
        ("custom.xcode >= 15", "custom.xcode", ReqOp::AtLeast, "15"),
    ] {
        let r = parse_requirement(expr).unwrap();
        assert_eq!(
            (r.key.as_str(), r.op, r.value.as_str()),
            (key, op, value),
            "{expr}"
        );
    }
}

#[test]
fn versions_compare_as_versions() {
    use Ordering::{Equal, Greater, Less};
    for (a, b, ord) in [
        ("12.1", "12.10", Less),
        ("12.1", "12.1.0", Equal),
        ("12", "12.0.0", Equal),
        ("12.4", "12.1", Greater),
        ("11.8", "12.1", Less),
        ("126.0.6478.127", "126.0.6478.61", Greater),
        ("v1.2", "1.2", Equal),
        ("12.4-rc1", "12.4", Equal),
        ("2", "10", Less),
    ] {
        assert_eq!(compare_versions(a, b), Some(ord), "{a} vs {b}");
    }
    for bad in ["", "twelve", "12.", ".1", "1..2", "latest"] {
        assert_eq!(compare_versions(bad, "1"), None, "{bad:?}");
    }
}

#[test]
fn sizes_compare_as_numbers_with_units() {
    use Ordering::{Equal, Greater, Less};
    for (a, b, ord) in [
        ("16GB", "16384MB", Equal),
        ("16GB", "16GiB", Equal), // both binary, on purpose
        ("16 gb", "16G", Equal),
        ("8GiB", "16GB", Less),
        ("512MB", "0.5GB", Equal),
        ("1TB", "1000GB", Greater),
        ("1.5GB", "1536MiB", Equal),
        ("1024KB", "1MB", Equal),
    ] {
        assert_eq!(compare_sizes(a, b), Some(ord), "{a} vs {b}");
    }
    for bad in ["16", "GB", "16 parsecs", "-1GB", ""] {
        assert_eq!(compare_sizes(bad, "1GB"), None, "{bad:?}");
    }
}

#[test]
fn aliases_normalise() {
    for (kind, raw, canonical) in [
        (Kind::Arch, "amd64", "x86_64"),
        (Kind::Arch, "X64", "x86_64"),
        (Kind::Arch, "aarch64", "arm64"),
        (Kind::Arch, "arm64", "arm64"),
        (Kind::Os, "darwin", "macos"),
        (Kind::Os, "OSX", "macos"),
        (Kind::Os, "win", "windows"),
        (Kind::Os, "Windows", "windows"),
        (Kind::Os, "freebsd", "freebsd"),
        (Kind::Vendor, "NVIDIA", "nvidia"),
        (Kind::List, " WebGPU , webnn,", "webgpu,webnn"),
    ] {
        assert_eq!(
            capability::normalize_value(kind, raw).unwrap(),
            canonical,
            "{raw}"
        );
    }
}

fn pool(name: &str, caps: &[(&str, &str)]) -> Pool {
    Pool {
        name: name.to_string(),
        labels: vec![name.to_string()],
        runners: 1,
        capabilities: caps
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect(),
        speed: 1.0,
        startup: 0.0,
    }
}

#[test]
fn requirements_against_pools() {
    let gpu = pool(
        "gpu",
        &[
            ("os", "linux"),
            ("arch", "amd64"), // not normalised: pools built by hand still compare
            ("cuda", "12.4"),
            ("gpu.vendor", "NVIDIA"),
            ("gpu.memory", "24GiB"),
            ("memory", "64GB"),
            ("cpu.cores", "16"),
            ("browser.chrome.features", "webgpu,webnn"),
            ("browser.chrome", "126.0.6478.127"),
        ],
    );
    for (expr, expected) in [
        ("cuda >= 12.1", true),
        ("cuda >= 12.10", false),
        ("cuda = 12.4.0", true),
        ("cuda = 12", false),
        ("gpu", true),
        ("gpu.vendor = nvidia", true),
        ("gpu.vendor = amd", false),
        ("arch = x86_64", true),
        ("arch = arm64", false),
        ("os = linux", true),
        ("memory >= 64GiB", true),
        ("memory >= 65GB", false),
        ("gpu.memory >= 16GB", true),
        ("cpu.cores >= 16", true),
        ("cpu.cores >= 17", false),
        ("browser.chrome.features has webgpu", true),
        ("browser.chrome.features has webgl", false),
        ("browser.chrome >= 120", true),
        ("browser.chrome", true),
        ("browser", true),
        ("browser.firefox", false),
        ("rocm", false),
        ("gpu.model = a100", false),
    ] {
        let req = parse_requirement(expr).unwrap();
        assert_eq!(satisfies(&gpu, &req), expected, "{expr}");
    }
}

#[test]
fn fit_prefers_the_least_capable_pool_that_fits() {
    let small = pool(
        "small",
        &[("os", "linux"), ("cpu.cores", "4"), ("memory", "16GB")],
    );
    let big = pool(
        "big",
        &[("os", "linux"), ("cpu.cores", "64"), ("memory", "256GB")],
    );
    let gpu = pool(
        "gpu",
        &[
            ("os", "linux"),
            ("cpu.cores", "4"),
            ("memory", "16GB"),
            ("gpu.vendor", "nvidia"),
            ("cuda", "12.4"),
        ],
    );
    let gpu_big = pool(
        "gpu-big",
        &[
            ("os", "linux"),
            ("cpu.cores", "4"),
            ("memory", "16GB"),
            ("gpu.vendor", "nvidia"),
            ("gpu.memory", "80GB"),
            ("cuda", "12.4"),
        ],
    );
    let gpu_mid = pool(
        "gpu-mid",
        &[
            ("os", "linux"),
            ("cpu.cores", "4"),
            ("memory", "16GB"),
            ("gpu.vendor", "nvidia"),
            ("gpu.memory", "24GB"),
            ("cuda", "12.4"),
        ],
    );
    let chrome = pool(
        "chrome",
        &[
            ("os", "linux"),
            ("cpu.cores", "4"),
            ("memory", "16GB"),
            ("browser.chrome", "126"),
        ],
    );
    let pools = vec![
        gpu.clone(),
        big.clone(),
        gpu_big,
        chrome,
        small.clone(),
        gpu_mid,
    ];
    let rank = |exprs: &[&str]| -> Vec<String> {
        let reqs: Vec<_> = exprs
            .iter()
            .map(|e| parse_requirement(e).unwrap())
            .collect();
        capability::rank_pools(&pools, &reqs)
            .into_iter()
            .map(|i| pools[i].name.clone())
            .collect()
    };
    for (needs, expected) in [
        // Nothing special: small plain runners first, GPU runners last.
        (
            &[][..],
            &["small", "chrome", "big", "gpu", "gpu-mid", "gpu-big"][..],
        ),
        (&["memory >= 32GB"], &["big"]),
        // An oversized CPU runner is still a smaller waste than a GPU one.
        (
            &["memory >= 8GB"],
            &["small", "chrome", "big", "gpu", "gpu-mid", "gpu-big"],
        ),
        (&["cuda >= 12.1"], &["gpu", "gpu-mid", "gpu-big"]),
        (&["gpu.memory >= 20GB"], &["gpu-mid", "gpu-big"]),
        (&["browser.chrome"], &["chrome"]),
        (
            &["os = linux", "cpu.cores >= 4"],
            &["small", "chrome", "big", "gpu", "gpu-mid", "gpu-big"],
        ),
    ] {
        assert_eq!(rank(needs), expected, "{needs:?}");
    }
    // A pool that cannot run the test scores zero; one with nothing extra scores one.
    let cuda = [parse_requirement("cuda >= 12.1").unwrap()];
    assert_eq!(fit_score(&small, &cuda), 0.0);
    assert_eq!(fit_score(&pool("bare", &[("os", "linux")]), &[]), 1.0);
    assert!(fit_score(&small, &[]) > fit_score(&gpu, &[]));
    assert!(fit_score(&small, &[]) > fit_score(&big, &[]));
}

#[test]
fn patterns_match_test_ids() {
    for (pattern, id, expected) in [
        ("gpu::*", "gpu::train::big", true),
        ("gpu::*", "cpu::gpu::x", false),
        ("*::big", "gpu::train::big", true),
        ("tests/*", "tests/a/b.py", true),
        ("tests/*.py", "tests/a/b.py", true),
        ("tests/*.py", "tests/a/b.pyc", false),
        ("a*b*c", "a_b_c", true),
        ("a*b*c", "abc", true),
        ("a*b*c", "acb", false),
        ("a*a", "a", false),
        ("t::test_?", "t::test_1", true),
        ("t::test_?", "t::test_12", false),
        ("t::test_[ab]", "t::test_b", true),
        ("t::test_[!ab]", "t::test_b", false),
        // An exact id is also a pattern, even with glob characters in it.
        ("t::test_x[1-2]", "t::test_x[1-2]", true),
        ("t::test_x[1-2]", "t::test_x1", true),
        ("t::test_x[[]1-2]", "t::test_x[1-2]", true),
        ("gpu::**", "gpu::a::b", true),
        ("tests/**/a.py", "tests/a.py", true),
        ("Gpu::*", "gpu::a", false),
        ("exact::id", "exact::id", true),
        ("exact::id", "exact::id2", false),
    ] {
        let p = TestPattern::new(pattern).unwrap();
        assert_eq!(p.matches(id), expected, "{pattern} vs {id}");
    }
}

fn tests_of(ids: &[&str]) -> Vec<PlanTest> {
    ids.iter().map(|id| PlanTest::new(*id, 1.0)).collect()
}

fn resolve_err(toml: &str, ids: &[&str]) -> String {
    let config = Config::from_toml(toml, "dtf.toml").unwrap();
    resolve(&config, &mut tests_of(ids))
        .unwrap_err()
        .to_string()
}

const POOLS: &str = r#"
[[pool]]
name = "linux"
runners = 4
capabilities = { os = "linux", memory = "16GB" }

[[pool]]
name = "gpu-old"
runners = 1
capabilities = { os = "linux", cuda = "11.8", gpu.vendor = "nvidia" }
"#;

#[test]
fn resolve_errors() {
    for (extra, ids, expected) in [
        (
            "[[dependency]]\nbefore = \"db::migrate\"\nafter = \"db::*\"\n",
            &["db::query", "db::report"][..],
            "dtf.toml:12:10: dependency #1: before: \"db::migrate\" matches no test in the inventory",
        ),
        (
            "[[dependency]]\nbefore = \"db::migrate\"\nafter = [\"db::q*\", \"api::*\"]\n",
            &["db::migrate", "db::query"],
            "dtf.toml:13:20: dependency #1: after: \"api::*\" matches no test in the inventory",
        ),
        (
            "[[require]]\ntests = \"gpu::*\"\nneeds = \"cuda >= 12.1\"\n",
            &["unit::a", "gpu::train_big"],
            "test gpu::train_big needs \"cuda >= 12.1\": no pool has it (pool \"linux\" has no cuda; pool \"gpu-old\" has cuda 11.8)",
        ),
        (
            "[[require]]\ntests = \"gpu::*\"\nneeds = [\"gpu\", \"memory >= 8GB\"]\n",
            &["gpu::a"],
            "test gpu::a needs \"gpu\" and \"memory >= 8GB\": no single pool has all of them (pool \"linux\" lacks \"gpu\"; pool \"gpu-old\" lacks \"memory >= 8GB\")",
        ),
        (
            "[[require]]\ntests = \"web::*\"\nneeds = \"browser.chrome.features has webgpu\"\n",
            &["web::a"],
            "test web::a needs \"browser.chrome.features has webgpu\": no pool has it (pool \"linux\" has no browser.chrome.features; pool \"gpu-old\" has no browser.chrome.features)",
        ),
    ] {
        assert_eq!(resolve_err(&format!("{POOLS}{extra}"), ids), expected);
    }
    // No pools at all.
    assert_eq!(
        resolve_err("[[require]]\ntests = \"a\"\nneeds = \"gpu\"\n", &["a"]),
        "test a needs \"gpu\": dtf.toml declares no [[pool]] to run it on"
    );
    // A partial inventory (re-running failed tests) tolerates rules that match
    // nothing, silently: that is expected there.
    let config = Config::from_toml(
        &format!("{POOLS}[[dependency]]\nbefore = \"db::migrate\"\nafter = \"db::*\"\n[[priority]]\ntests = \"x::*\"\npriority = 2\n"),
        "dtf.toml",
    )
    .unwrap();
    let options = ResolveOptions {
        partial_inventory: true,
        ..ResolveOptions::default()
    };
    let r = resolve_with(&config, &mut tests_of(&["db::query"]), options).unwrap();
    assert!(r.dependencies.is_empty());
    assert!(r.warnings.is_empty());
    assert!(matches!(
        resolve(&config, &mut tests_of(&["db::query"])),
        Err(ConfigError::UnknownTest { line: 12, .. })
    ));
}

#[test]
fn resolve_applies_rules_to_the_inventory() {
    let toml = format!(
        r#"{POOLS}
[[pool]]
name = "gpu-new"
runners = 2
quota_minutes = 90
capabilities = {{ os = "linux", cuda = "12.4", gpu.vendor = "nvidia", memory = "64GB" }}

[[require]]
tests = ["gpu::*"]
needs = ["cuda >= 12.1"]

[[require]]
tests = ["gpu::big", "mem::*"]
needs = ["memory >= 8GB", "cuda >= 12.1"]

[[dependency]]
before = ["setup::a", "setup::b"]
after = "db::*"

[[dependency]]
before = "db::*"
after = "db::*"

[[priority]]
tests = "*"
priority = 1

[[priority]]
tests = "db::slow"
priority = -5

[[group]]
name = "db"
tests = "db::*"
share = 2
quota_minutes = 10

[[group]]
name = "slow"
tests = ["db::slow", "nothing::*"]
"#
    );
    let config = Config::from_toml(&toml, "dtf.toml").unwrap();
    let ids = [
        "setup::a",
        "setup::b",
        "db::fast",
        "db::slow",
        "gpu::big",
        "gpu::small",
        "mem::x",
        "unit::y",
    ];
    let mut tests = tests_of(&ids);
    let r = resolve(&config, &mut tests).unwrap();

    let needs: Vec<String> = tests
        .iter()
        .map(|t| {
            t.requires
                .iter()
                .map(requirement_text)
                .collect::<Vec<_>>()
                .join(", ")
        })
        .collect();
    assert_eq!(
        needs,
        [
            "",
            "",
            "",
            "",
            "cuda >= 12.1, memory >= 8GB",
            "cuda >= 12.1",
            "memory >= 8GB, cuda >= 12.1",
            ""
        ]
    );
    let priorities: Vec<i32> = tests.iter().map(|t| t.priority).collect();
    assert_eq!(priorities, [1, 1, 1, -5, 1, 1, 1, 1]);
    let groups: Vec<Option<&str>> = tests.iter().map(|t| t.group.as_deref()).collect();
    assert_eq!(
        groups,
        [None, None, Some("db"), Some("slow"), None, None, None, None]
    );
    // setup::{a,b} before db::{fast,slow}, and db tests among themselves (a cycle
    // for the dependency checker to report, not for matching to hide).
    assert_eq!(
        r.dependencies,
        [(0, 2), (0, 3), (1, 2), (1, 3), (2, 3), (3, 2)]
    );
    assert_eq!(
        r.eligible,
        [
            vec![],
            vec![],
            vec![],
            vec![],
            vec![2],
            vec![2],
            vec![2],
            vec![]
        ]
    );
    assert_eq!(
        r.shares,
        [("db".to_string(), 2.0), ("slow".to_string(), 1.0)]
    );
    assert_eq!(
        r.quotas,
        [("gpu-new".to_string(), 5400.0), ("db".to_string(), 600.0)]
    );
    assert_eq!(
        r.warnings,
        ["dtf.toml:50:22: group \"slow\": tests: \"nothing::*\" matches no test in the inventory"]
    );
    let names: Vec<&str> = r.pools.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["linux", "gpu-old", "gpu-new"]);

    let mut problem = Problem {
        tests,
        ..Problem::default()
    };
    r.apply(&mut problem);
    assert_eq!(problem.pools_for(0), [0, 1, 2]);
    assert_eq!(problem.pools_for(4), [2]);
}

#[test]
fn eligible_orders_plain_tests_away_from_gpu_pools() {
    let toml = r#"
[[pool]]
name = "gpu"
runners = 1
capabilities = { gpu.vendor = "nvidia" }
[[pool]]
name = "cpu"
runners = 1
capabilities = { os = "linux" }
"#;
    let config = Config::from_toml(toml, "dtf.toml").unwrap();
    let mut tests = tests_of(&["a", "b"]);
    let r = resolve(&config, &mut tests).unwrap();
    assert_eq!(r.eligible, [vec![1, 0], vec![1, 0]]);
}

#[test]
fn startup_defaults() {
    let toml = "[plan]\nstartup = \"12s\"\n[[pool]]\nname = \"a\"\nrunners = 1\n[[pool]]\nname = \"b\"\nrunners = 1\nstartup = 3\n";
    let config = Config::from_toml(toml, "dtf.toml").unwrap();
    let r = resolve(&config, &mut tests_of(&["x"])).unwrap();
    let startups: Vec<f64> = r.pools.iter().map(|p| p.startup).collect();
    assert_eq!(startups, [12.0, 3.0]);
}

#[test]
fn the_example_file_parses_and_resolves() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/dtf.toml");
    let config = Config::load(&path).unwrap();
    assert_eq!(config.plan.strategy.as_deref(), Some("timing"));
    assert_eq!(config.plan.deadline, Some(900.0));
    let names: Vec<&str> = config.pools.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["linux", "linux-arm", "gpu", "browsers"]);
    assert_eq!(config.requires.len(), 4);
    assert_eq!(config.dependencies.len(), 2);
    assert_eq!(config.priorities.len(), 2);
    assert_eq!(config.groups.len(), 2);
    let browsers = &config.pools[3].capabilities;
    assert!(browsers.contains(&("os".to_string(), "macos".to_string())));
    assert!(browsers.contains(&("browser.chrome".to_string(), "126.0.6478.127".to_string())));

    let ids = [
        "tests.ml::train_big",
        "tests.web.gpu::render",
        "tests.arm::neon",
        "tests.test_simd::test_neon",
        "tests.test_big_sort::sort_1g",
        "tests.db::test_migrate",
        "tests.db::test_query_a",
        "tests.db::test_report",
        "tests.test_accounts::signup",
        "tests.test_accounts::login",
        "tests.test_checkout::gift_wrap",
        "tests.test_cart::add_item",
    ];
    let mut tests = tests_of(&ids);
    let r = resolve(&config, &mut tests).unwrap();
    let pools_of = |i: usize| -> Vec<&str> {
        let list = if r.eligible[i].is_empty() {
            (0..r.pools.len()).collect()
        } else {
            r.eligible[i].clone()
        };
        list.into_iter().map(|p| r.pools[p].name.as_str()).collect()
    };
    assert_eq!(pools_of(0), ["gpu"]);
    assert_eq!(pools_of(1), ["browsers"]);
    assert_eq!(pools_of(2), ["linux-arm", "browsers"]);
    assert_eq!(pools_of(4), ["linux", "linux-arm", "gpu"]);
    assert_eq!(pools_of(11), ["linux", "linux-arm", "browsers", "gpu"]);
    assert_eq!(r.dependencies, [(5, 6), (5, 7), (8, 9)]);
    assert_eq!(tests[10].priority, 0);
    assert_eq!(tests[11].priority, 10);
    assert_eq!(tests[0].group.as_deref(), Some("ml"));
    assert_eq!(tests[11].group.as_deref(), Some("web"));
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
}

#[test]
fn missing_file_is_named() {
    let err = Config::load(std::path::Path::new("/nonexistent/dtf.toml")).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("cannot read /nonexistent/dtf.toml: "),
        "{err}"
    );
}

#[test]
fn large_inventories_resolve_quickly() {
    let n = 100_000;
    let ids: Vec<String> = (0..n)
        .map(|i| format!("suite{}::mod{}::test_{i}", i % 50, i % 7))
        .collect();
    let mut toml = String::from(POOLS);
    toml.push_str("[[pool]]\nname = \"gpu\"\nrunners = 4\ncapabilities = { os = \"linux\", cuda = \"12.4\", gpu.vendor = \"nvidia\" }\n");
    // 200 exact ids, 50 prefix globs, 20 globs that must look at every id.
    for i in 0..200 {
        write!(
            toml,
            "[[priority]]\ntests = \"suite{}::mod{}::test_{}\"\npriority = 3\n",
            (i * 7) % 50,
            (i * 7) % 7,
            i * 7
        )
        .unwrap();
    }
    for s in 0..50 {
        write!(
            toml,
            "[[group]]\nname = \"g{s}\"\ntests = \"suite{s}::*\"\n"
        )
        .unwrap();
    }
    for m in 0..20 {
        write!(
            toml,
            "[[require]]\ntests = \"*::test_{m}?\"\nneeds = \"os = linux\"\n"
        )
        .unwrap();
    }
    toml.push_str("[[require]]\ntests = \"suite3::*\"\nneeds = \"cuda >= 12.1\"\n");
    toml.push_str(
        "[[dependency]]\nbefore = \"suite0::mod0::test_0\"\nafter = \"suite0::mod1::*\"\n",
    );
    let config = Config::from_toml(&toml, "dtf.toml").unwrap();
    let mut tests: Vec<PlanTest> = ids
        .iter()
        .map(|id| PlanTest::new(id.as_str(), 1.0))
        .collect();
    let start = std::time::Instant::now();
    let r = resolve(&config, &mut tests).unwrap();
    let took = start.elapsed();
    eprintln!("resolve of {n} tests took {took:?}");
    assert!(took.as_secs_f64() < 10.0, "took {took:?}");
    assert_eq!(tests.iter().filter(|t| t.priority == 3).count(), 200);
    assert!(tests.iter().all(|t| t.group.is_some()));
    // suite3 tests: i % 50 == 3, so every id with i ≡ 3 (mod 50).
    assert_eq!(r.eligible.iter().filter(|e| *e == &vec![2]).count(), n / 50);
    let after: usize = (0..n).filter(|i| i % 50 == 0 && i % 7 == 1).count();
    assert_eq!(r.dependencies.len(), after);
}

proptest! {
    /// The fast paths for `*` and `?` agree with `glob::Pattern` itself.
    #[test]
    fn wildcard_patterns_agree_with_glob(pieces in prop::collection::vec("[ab:/?é]{0,3}", 1..5), id in "[ab:/é]{0,10}") {
        let text = pieces.join("*");
        prop_assume!(!text.is_empty() && !text.contains("**"));
        let ours = TestPattern::new(&text).unwrap().matches(&id);
        let opts = glob::MatchOptions { case_sensitive: true, require_literal_separator: false, require_literal_leading_dot: false };
        let theirs = glob::Pattern::new(&text).unwrap().matches_with(&id, opts) || id == text;
        prop_assert_eq!(ours, theirs, "{} vs {}", text, id);
    }

    /// The index finds exactly what matching every id one by one finds.
    #[test]
    fn index_agrees_with_a_scan(
        ids in prop::collection::vec("[ab]{0,2}(::[ab]{0,2}){0,2}", 0..30),
        pattern in "[ab:*?]{1,6}",
    ) {
        let p = TestPattern::new(&pattern).unwrap();
        let tests: Vec<PlanTest> = ids.iter().map(|id| PlanTest::new(id.as_str(), 1.0)).collect();
        let expected: Vec<usize> = ids.iter().enumerate().filter(|(_, id)| p.matches(id)).map(|(i, _)| i).collect();
        prop_assert_eq!(TestIndex::new(&tests).matching(&p), expected);
    }
}
