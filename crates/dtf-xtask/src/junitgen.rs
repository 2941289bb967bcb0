//! Synthetic JUnit shard files for the merge benchmark.
//!
//! Merge speed depends on what the bytes look like (long names, escapes, CDATA, big
//! stack traces, retries of the same test in another file), so the generator imitates
//! Maven Surefire, pytest and jest-junit output instead of emitting uniform stubs.
//! Everything comes from one seeded PRNG, so a given (cases, shards, seed) always gives
//! the same bytes and cached data can be reused.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use crate::rng::Rng;
use crate::words::{self, lower_first, pascal_words, snake, spaced_lower};

/// Bumped whenever the output for the same parameters changes, so caches are rebuilt.
pub const GENERATOR_VERSION: u32 = 2;

/// Default median testcases per `<testsuite>`: suites are Java packages, Python modules and
/// JS files holding several classes, so a shard file has dozens to hundreds of them.
pub const DEFAULT_SUITE_MEDIAN: usize = 250;

const FAIL_RATE: f64 = 0.03;
const ERROR_RATE: f64 = 0.005;
const SKIP_RATE: f64 = 0.02;
const STDOUT_RATE: f64 = 0.10;
/// Chance that a failed/errored test is run again in a later shard, and that a passing one is.
/// Together they make about 1% of ids appear twice.
const RETRY_FAILED_RATE: f64 = 0.25;
const RETRY_PASSED_RATE: f64 = 0.0016;
/// Chance that a retried failure passes the second time (flaky).
const RETRY_PASSES_RATE: f64 = 0.6;

#[derive(Clone, Copy, Debug)]
pub struct GenParams {
    pub cases: usize,
    pub shards: usize,
    pub seed: u64,
    /// Median testcases per `<testsuite>` (the sizes are long-tailed around it).
    pub suite_median: usize,
}

/// What was written; stored as the data set's manifest.
#[derive(Clone, Debug, Default)]
pub struct GenSummary {
    pub files: Vec<PathBuf>,
    pub bytes: u64,
    pub testcases: u64,
    pub unique_tests: u64,
    pub retries: u64,
    pub flaky: u64,
    pub failures: u64,
    pub errors: u64,
    pub skipped: u64,
    pub suites: u64,
}

impl GenSummary {
    pub fn to_json(&self, params: &GenParams) -> Value {
        json!({
            "schema": "dtf.benchdata.v1",
            "generator_version": GENERATOR_VERSION,
            "cases": params.cases,
            "shards": params.shards,
            "seed": params.seed,
            "suite_median": params.suite_median,
            "files": self.files.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
            "bytes": self.bytes,
            "testcases": self.testcases,
            "unique_tests": self.unique_tests,
            "retries": self.retries,
            "flaky": self.flaky,
            "failures": self.failures,
            "errors": self.errors,
            "skipped": self.skipped,
            "suites": self.suites,
        })
    }

    pub fn from_json(v: &Value) -> Option<GenSummary> {
        let n = |k: &str| v.get(k).and_then(Value::as_u64);
        Some(GenSummary {
            files: v
                .get("files")?
                .as_array()?
                .iter()
                .map(|f| f.as_str().map(PathBuf::from))
                .collect::<Option<Vec<_>>>()?,
            bytes: n("bytes")?,
            testcases: n("testcases")?,
            unique_tests: n("unique_tests")?,
            retries: n("retries")?,
            flaky: n("flaky")?,
            failures: n("failures")?,
            errors: n("errors")?,
            skipped: n("skipped")?,
            suites: n("suites")?,
        })
    }
}

/// Writes `shard-01.xml` .. `shard-NN.xml` into `out_dir` (created if missing).
pub fn generate(params: GenParams, out_dir: &Path) -> Result<GenSummary> {
    if params.shards == 0 {
        bail!("--shards must be at least 1");
    }
    fs::create_dir_all(out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    let mut g = Generator::new(params);
    let mut summary = GenSummary::default();
    let width = params.shards.to_string().len().max(2);
    for shard in 0..params.shards {
        let budget =
            params.cases / params.shards + usize::from(shard < params.cases % params.shards);
        let xml = g.shard(shard, budget);
        let path = out_dir.join(format!("shard-{:0width$}.xml", shard + 1));
        fs::write(&path, &xml).with_context(|| format!("writing {}", path.display()))?;
        summary.bytes += xml.len() as u64;
        summary.files.push(path);
    }
    let t = &g.totals;
    summary.testcases = t.tests;
    summary.failures = t.failures;
    summary.errors = t.errors;
    summary.skipped = t.skipped;
    summary.retries = g.retries_written;
    summary.unique_tests = t.tests - g.retries_written;
    summary.flaky = g.flaky;
    summary.suites = g.suites_written;
    Ok(summary)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Eco {
    Java,
    Python,
    Js,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    Pass,
    Fail,
    Error,
    Skip,
}

/// One `<testsuite>`: a Java package, a Python module or a JS test file, holding the
/// tests of several classes (or describe blocks).
struct Group {
    eco: Eco,
    /// The `<testsuite name>`.
    name: String,
    domain: &'static str,
    /// Python project / JS repository / Java organisation prefix.
    project: &'static str,
    /// Python and JS: the one test file of the group.
    test_file: String,
    /// JS checkout root as it appears in jest stack traces.
    root: String,
    /// Whether testcases carry `file` (and for pytest `line`) attributes, as pytest's
    /// xunit1 family and jest-junit's `addFileAttribute` do; most setups leave them off.
    file_attr: bool,
}

/// One test class (or describe block, or a module's plain test functions); shared by
/// its cases and by their retries.
struct Unit {
    group: Rc<Group>,
    classname: String,
    noun: &'static str,
    role: &'static str,
    /// Project-relative test file.
    test_file: String,
    /// Project-relative file of the code under test (appears in stack traces).
    src_file: String,
    /// Java package or Python import path of the code under test.
    package: String,
}

impl Unit {
    fn eco(&self) -> Eco {
        self.group.eco
    }
}

/// One test as a retry needs to reproduce it in a later shard.
struct TestRef {
    unit: Rc<Unit>,
    name: String,
    /// Function/method name for stack traces.
    func: String,
    first: Outcome,
    target: usize,
}

#[derive(Default, Clone, Copy)]
struct Tally {
    tests: u64,
    failures: u64,
    errors: u64,
    skipped: u64,
    time: f64,
}

impl Tally {
    fn add(&mut self, o: &Tally) {
        self.tests += o.tests;
        self.failures += o.failures;
        self.errors += o.errors;
        self.skipped += o.skipped;
        self.time += o.time;
    }
}

struct Generator {
    params: GenParams,
    rng: Rng,
    suite_names: HashSet<String>,
    classnames: HashSet<String>,
    pending: Vec<TestRef>,
    totals: Tally,
    retries_written: u64,
    flaky: u64,
    suites_written: u64,
}

impl Generator {
    fn new(params: GenParams) -> Generator {
        Generator {
            params,
            rng: Rng::new(params.seed),
            suite_names: HashSet::new(),
            classnames: HashSet::new(),
            pending: Vec::new(),
            totals: Tally::default(),
            retries_written: 0,
            flaky: 0,
            suites_written: 0,
        }
    }

    fn shard(&mut self, shard: usize, budget: usize) -> String {
        let mut retries: Vec<TestRef> = Vec::new();
        let mut keep = Vec::with_capacity(self.pending.len());
        for t in self.pending.drain(..) {
            if t.target == shard {
                retries.push(t);
            } else {
                keep.push(t);
            }
        }
        self.pending = keep;
        retries.truncate(budget);

        let mut body = String::with_capacity(budget * 240 + 1024);
        let mut tally = Tally::default();
        let mut fresh = budget - retries.len();
        while fresh > 0 {
            let n = self.suite_size().min(fresh);
            let group = Rc::new(self.new_group());
            self.write_suite(&mut body, &mut tally, shard, &group, n);
            fresh -= n;
        }
        self.write_retries(&mut body, &mut tally, shard, retries);
        self.totals.add(&tally);

        let mut xml = String::with_capacity(body.len() + 256);
        xml.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        let _ = writeln!(
            xml,
            "<testsuites name=\"ci shard {} of {}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{:.3}\">",
            shard + 1,
            self.params.shards,
            tally.tests,
            tally.failures,
            tally.errors,
            tally.skipped,
            tally.time
        );
        xml.push_str(&body);
        xml.push_str("</testsuites>\n");
        xml
    }

    /// Long-tailed around the requested median.
    fn suite_size(&mut self) -> usize {
        let median = self.params.suite_median.max(1) as f64;
        (self.rng.log_normal(median, 1.0).round() as usize)
            .clamp(1, self.params.suite_median.max(1) * 20)
    }

    /// Tests per class: most have a handful, a few have a hundred.
    fn class_size(&mut self) -> usize {
        (self.rng.log_normal(8.0, 0.8).round() as usize).clamp(1, 150)
    }

    fn new_group(&mut self) -> Group {
        let r = &mut self.rng;
        let eco = match r.below(100) {
            0..45 => Eco::Java,
            45..75 => Eco::Python,
            _ => Eco::Js,
        };
        let domain = *r.pick(words::DOMAINS);
        let (project, base, ext, root, file_attr) = match eco {
            Eco::Java => {
                let org = *r.pick(words::JAVA_ORGS);
                let mut package = format!("{org}.{domain}");
                if r.chance(0.3) {
                    package = format!("{package}.{}", r.pick(words::JAVA_SUBPACKAGES));
                }
                (org, package, "", String::new(), false)
            }
            Eco::Python => {
                let project = *r.pick(words::PY_PROJECTS);
                let (noun, role) = (*r.pick(words::NOUNS), *r.pick(words::ROLES));
                let stem = format!("{}_{}", snake(noun), snake(role));
                (
                    project,
                    format!("tests.{domain}.test_{stem}"),
                    ".py",
                    String::new(),
                    r.chance(0.2),
                )
            }
            Eco::Js => {
                let repo = *r.pick(words::JS_REPOS);
                let (noun, role) = (*r.pick(words::NOUNS), *r.pick(words::ROLES));
                let stem = format!("{}{role}", lower_first(noun));
                let ext = *r.pick(words::JS_EXTENSIONS);
                (
                    repo,
                    format!("src/{domain}/{stem}"),
                    ext,
                    format!("/home/runner/work/{repo}/{repo}"),
                    r.chance(0.3),
                )
            }
        };
        // The same words drawn twice would merge two suites into one; number the later ones.
        let mut name = base.clone();
        let mut n = 2;
        while !self.suite_names.insert(name.clone()) {
            name = match eco {
                Eco::Java => format!("{base}{n}"),
                _ => format!("{base}_{n}"),
            };
            n += 1;
        }
        let test_file = match eco {
            Eco::Java => String::new(),
            Eco::Python => format!("{}{ext}", name.replace('.', "/")),
            Eco::Js => format!("{name}{ext}"),
        };
        let name = if eco == Eco::Js {
            test_file.clone()
        } else {
            name
        };
        Group {
            eco,
            name,
            domain,
            project,
            test_file,
            root,
            file_attr,
        }
    }

    fn unique_classname(&mut self, base: String, eco: Eco) -> String {
        if self.classnames.insert(base.clone()) {
            return base;
        }
        let mut n = 2;
        loop {
            let candidate = match eco {
                Eco::Js => format!("{base} ({n})"),
                _ => format!("{base}{n}"),
            };
            if self.classnames.insert(candidate.clone()) {
                return candidate;
            }
            n += 1;
        }
    }

    fn new_unit(&mut self, group: &Rc<Group>) -> Unit {
        let r = &mut self.rng;
        let noun = *r.pick(words::NOUNS);
        let role = *r.pick(words::ROLES);
        let (base, test_file, src_file, package) = match group.eco {
            Eco::Java => {
                let suffix = if r.chance(0.1) { "IT" } else { "Test" };
                let mut class = format!("{}.{noun}{role}{suffix}", group.name);
                if r.chance(0.15) {
                    class = format!("{class}${}", r.pick(words::JAVA_NESTED));
                }
                (
                    class,
                    String::new(),
                    format!("{noun}{role}.java"),
                    group.name.clone(),
                )
            }
            Eco::Python => {
                let stem = format!("{}_{}", snake(noun), snake(role));
                let src = format!("src/{}/{}/{stem}.py", group.project, group.domain);
                let package = format!("{}.{}.{stem}", group.project, group.domain);
                // Plain test functions report the module as their class.
                let class = if r.chance(0.5) {
                    group.name.clone()
                } else {
                    format!(
                        "{}.Test{noun}{}",
                        group.name,
                        r.pick(words::PY_CLASS_SUFFIXES)
                    )
                };
                (class, group.test_file.clone(), src, package)
            }
            Eco::Js => {
                let describe = if r.chance(0.5) {
                    format!("{noun}{role}")
                } else {
                    format!("{noun}{role} {}", r.pick(words::JS_METHODS))
                };
                let src = format!("src/{}/{}{role}.ts", group.domain, lower_first(noun));
                (describe, group.test_file.clone(), src, String::new())
            }
        };
        // A module's plain functions share the module as classname; their names stay unique
        // through the per-suite check in `write_suite`.
        let classname = if base == group.name {
            base
        } else {
            self.unique_classname(base, group.eco)
        };
        let test_file = if group.eco == Eco::Java {
            let outer = classname.split('$').next().unwrap_or(&classname);
            format!("src/test/java/{}.java", outer.replace('.', "/"))
        } else {
            test_file
        };
        Unit {
            group: Rc::clone(group),
            classname,
            noun,
            role,
            test_file,
            src_file,
            package,
        }
    }

    fn write_suite(
        &mut self,
        out: &mut String,
        totals: &mut Tally,
        shard: usize,
        group: &Rc<Group>,
        n: usize,
    ) {
        self.suites_written += 1;
        let mut body = String::with_capacity(n * 260);
        let mut tally = Tally::default();
        let mut written = 0;
        let mut seen: HashSet<String> = HashSet::new();
        let last = shard + 1 == self.params.shards;
        while written < n {
            let unit = Rc::new(self.new_unit(group));
            let class_end = written + self.class_size().min(n - written);
            while written < class_end {
                let (func, names) = self.test_names(&unit, class_end - written);
                for name in names {
                    // The same words drawn twice in one class: add a parameter-like suffix.
                    let mut name = name;
                    let mut k = 2;
                    while !seen.insert(format!("{}\u{0}{name}", unit.classname)) {
                        name = format!("{name} #{k}");
                        k += 1;
                    }
                    let first = self.pick_outcome();
                    self.write_case(&mut body, &mut tally, &unit, &name, &func, first);
                    let retry = match first {
                        Outcome::Fail | Outcome::Error => self.rng.chance(RETRY_FAILED_RATE),
                        Outcome::Pass => self.rng.chance(RETRY_PASSED_RATE),
                        Outcome::Skip => false,
                    };
                    if retry && !last {
                        let target = self.rng.range(shard + 1, self.params.shards - 1);
                        self.pending.push(TestRef {
                            unit: Rc::clone(&unit),
                            name,
                            func: func.clone(),
                            first,
                            target,
                        });
                    }
                    written += 1;
                }
            }
        }
        self.suite_element(out, group, &tally, &body, shard, false);
        totals.add(&tally);
    }

    /// Retries go last, grouped under the original suite names, like a rerun job's report.
    fn write_retries(
        &mut self,
        out: &mut String,
        totals: &mut Tally,
        shard: usize,
        retries: Vec<TestRef>,
    ) {
        let mut i = 0;
        while i < retries.len() {
            let group = Rc::clone(&retries[i].unit.group);
            let mut body = String::new();
            let mut tally = Tally::default();
            while i < retries.len() && Rc::ptr_eq(&retries[i].unit.group, &group) {
                let t = &retries[i];
                let outcome = match t.first {
                    Outcome::Fail | Outcome::Error if self.rng.chance(RETRY_PASSES_RATE) => {
                        self.flaky += 1;
                        Outcome::Pass
                    }
                    Outcome::Fail | Outcome::Error => Outcome::Fail,
                    _ if self.rng.chance(0.1) => Outcome::Fail,
                    _ => Outcome::Pass,
                };
                self.write_case(&mut body, &mut tally, &t.unit, &t.name, &t.func, outcome);
                self.retries_written += 1;
                i += 1;
            }
            self.suites_written += 1;
            self.suite_element(out, &group, &tally, &body, shard, true);
            totals.add(&tally);
        }
    }

    fn suite_element(
        &mut self,
        out: &mut String,
        group: &Group,
        t: &Tally,
        body: &str,
        shard: usize,
        rerun: bool,
    ) {
        let secs = 9 * 3600 + shard * 11 + self.rng.below(3000);
        out.push_str("<testsuite name=\"");
        esc_attr(out, &group.name);
        let _ = write!(
            out,
            "\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{:.3}\" timestamp=\"2025-03-14T{:02}:{:02}:{:02}\" hostname=\"runner-{}{}\"",
            t.tests,
            t.failures,
            t.errors,
            t.skipped,
            t.time,
            secs / 3600,
            secs / 60 % 60,
            secs % 60,
            shard + 1,
            if rerun { "-rerun" } else { "" }
        );
        if group.eco != Eco::Java {
            out.push_str(" file=\"");
            esc_attr(out, &group.test_file);
            out.push('"');
        }
        out.push_str(">\n");
        if self.rng.chance(0.3) {
            out.push_str("  <properties>\n");
            let props: &[(&str, &str)] = match group.eco {
                Eco::Java => &[
                    ("java.version", "21.0.2"),
                    ("os.name", "Linux"),
                    ("surefire.version", "3.2.5"),
                    ("user.dir", "/home/runner/work/billing/billing"),
                ],
                Eco::Python => &[
                    ("python", "3.12.2"),
                    ("platform", "linux"),
                    ("pytest", "8.1.1"),
                ],
                Eco::Js => &[("node", "v20.11.1"), ("jest", "29.7.0")],
            };
            for (k, v) in props {
                let _ = writeln!(out, "    <property name=\"{k}\" value=\"{v}\"/>");
            }
            let _ = writeln!(
                out,
                "    <property name=\"ci.shard\" value=\"{}\"/>",
                shard + 1
            );
            out.push_str("  </properties>\n");
        }
        out.push_str(body);
        out.push_str("</testsuite>\n");
    }

    fn pick_outcome(&mut self) -> Outcome {
        let u = self.rng.unit();
        if u < FAIL_RATE {
            Outcome::Fail
        } else if u < FAIL_RATE + ERROR_RATE {
            Outcome::Error
        } else if u < FAIL_RATE + ERROR_RATE + SKIP_RATE {
            Outcome::Skip
        } else {
            Outcome::Pass
        }
    }

    /// One test function: its own name for stack traces, and the ids it reports (several
    /// when parametrized). Never more than `room` ids.
    fn test_names(&mut self, unit: &Unit, room: usize) -> (String, Vec<String>) {
        let r = &mut self.rng;
        let (base, third, gerund) = *r.pick(words::VERBS);
        let noun = if r.chance(0.6) {
            unit.noun
        } else {
            *r.pick(words::NOUNS)
        };
        let qual = *r.pick(words::QUALIFIERS);
        let params = if r.chance(0.25) {
            (r.log_normal(4.0, 0.6).round() as usize)
                .clamp(2, 24)
                .min(room)
        } else {
            1
        };
        match unit.eco() {
            Eco::Java => {
                let func = match r.below(3) {
                    0 => format!("test{noun}{}{}", pascal_words(gerund), pascal_words(qual)),
                    1 => format!("should{}{noun}{}", pascal_words(base), pascal_words(qual)),
                    _ => format!("{base}{noun}_{}", lower_first(&pascal_words(qual))),
                };
                if params == 1 {
                    let name = func.clone();
                    return (func, vec![name]);
                }
                let types = *r.pick(words::JAVA_PARAM_TYPES);
                let names = (1..=params)
                    .map(|i| format!("{func}({types})[{i}]"))
                    .collect();
                (func, names)
            }
            Eco::Python => {
                let func = if r.chance(0.5) {
                    format!("test_{}_{gerund}_{}", snake(noun), qual.replace(' ', "_"))
                } else {
                    format!("test_{base}_{}_{}", snake(noun), qual.replace(' ', "_"))
                };
                if params == 1 {
                    let name = func.clone();
                    return (func, vec![name]);
                }
                let style = r.below(4);
                let names = (0..params)
                    .map(|i| {
                        let id = match style {
                            0 => format!("{}-{i}", words::CURRENCIES[i % words::CURRENCIES.len()]),
                            1 if params == 2 => ["True", "False"][i].to_string(),
                            1 => format!("case{i}"),
                            2 => {
                                ["0.01", "-1", "100", "0", "1e6", "None", "''"][i % 7].to_string()
                                    + &suffix(i, 7)
                            }
                            _ => format!(
                                "{}-{}",
                                ["empty", "single", "many", "nested"][i % 4],
                                i / 4
                            ),
                        };
                        format!("{func}[{id}]")
                    })
                    .collect();
                (func, names)
            }
            Eco::Js => {
                let title = format!("{third} {} {qual}", spaced_lower(noun));
                if params == 1 {
                    return ("Object.<anonymous>".to_string(), vec![title]);
                }
                let unicode = r.chance(0.1);
                let names = (0..params)
                    .map(|i| {
                        if unicode {
                            format!(
                                "{title} for {}{}",
                                words::PLACES[i % words::PLACES.len()],
                                suffix(i, words::PLACES.len())
                            )
                        } else {
                            format!(
                                "{title} ({} {})",
                                words::CURRENCIES[i % words::CURRENCIES.len()].to_uppercase(),
                                i
                            )
                        }
                    })
                    .collect();
                ("Object.<anonymous>".to_string(), names)
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn write_case(
        &mut self,
        out: &mut String,
        tally: &mut Tally,
        unit: &Unit,
        name: &str,
        func: &str,
        outcome: Outcome,
    ) {
        // Median 15 ms with a long tail; a few integration-style tests take tens of seconds.
        let mut time = self.rng.log_normal(0.015, 1.6);
        if self.rng.chance(0.003) {
            time += self.rng.unit() * 90.0;
        }
        if outcome == Outcome::Skip {
            time = 0.0;
        }
        let time = (time * 1000.0).round() / 1000.0;
        tally.tests += 1;
        tally.time += time;

        out.push_str("  <testcase name=\"");
        esc_attr(out, name);
        out.push_str("\" classname=\"");
        esc_attr(out, &unit.classname);
        let _ = write!(out, "\" time=\"{time:.3}\"");
        if unit.group.file_attr {
            out.push_str(" file=\"");
            esc_attr(out, &unit.test_file);
            out.push('"');
            if unit.eco() == Eco::Python {
                let _ = write!(out, " line=\"{}\"", self.rng.range(10, 900));
            }
        }

        let props = self.rng.chance(0.01);
        let stdout = self.rng.chance(STDOUT_RATE);
        let stderr = matches!(outcome, Outcome::Fail | Outcome::Error) && self.rng.chance(0.3);
        if outcome == Outcome::Pass && !props && !stdout {
            out.push_str("/>\n");
            return;
        }
        out.push_str(">\n");
        if props {
            let _ = write!(
                out,
                "    <properties>\n      <property name=\"owner\" value=\"team-{}\"/>\n      <property name=\"jira\" value=\"PAY-{}\"/>\n    </properties>\n",
                snake(unit.role),
                self.rng.range(100, 9999)
            );
        }
        match outcome {
            Outcome::Pass => {}
            Outcome::Skip => {
                tally.skipped += 1;
                let msg = *self.rng.pick(words::SKIP_MESSAGES);
                out.push_str("    <skipped message=\"");
                esc_attr(out, msg);
                if unit.eco() == Eco::Python {
                    let _ = writeln!(
                        out,
                        "\" type=\"pytest.skip\">{}:{}: {}</skipped>",
                        unit.test_file,
                        self.rng.range(10, 900),
                        escaped(msg)
                    );
                } else {
                    out.push_str("\"/>\n");
                }
            }
            Outcome::Fail | Outcome::Error => {
                let error = outcome == Outcome::Error;
                if error {
                    tally.errors += 1;
                } else {
                    tally.failures += 1;
                }
                let (ty, msg, trace) = self.failure(unit, func, error);
                let tag = if error { "error" } else { "failure" };
                let _ = write!(out, "    <{tag} message=\"");
                esc_attr(out, &msg);
                out.push_str("\" type=\"");
                esc_attr(out, &ty);
                out.push_str("\">");
                esc_text(out, &trace);
                let _ = writeln!(out, "</{tag}>");
            }
        }
        if stdout {
            let text = self.log_lines(unit);
            out.push_str("    <system-out>");
            if self.rng.chance(0.5) {
                out.push_str("<![CDATA[");
                out.push_str(&text);
                out.push_str("]]>");
            } else {
                esc_text(out, &text);
            }
            out.push_str("</system-out>\n");
        }
        if stderr {
            out.push_str("    <system-err><![CDATA[");
            let _ = write!(
                out,
                "WARNING: retrying request after 503 Service Unavailable (attempt {}/3)\nconnection reset by peer while reading response from 127.0.0.1:{}\n",
                self.rng.range(1, 3),
                self.rng.range(30000, 60000)
            );
            out.push_str("]]></system-err>\n");
        }
        out.push_str("  </testcase>\n");
    }

    /// A few lines of test output, with the `&`, `<` and quotes real logs carry.
    fn log_lines(&mut self, unit: &Unit) -> String {
        let r = &mut self.rng;
        let n = r.range(1, 3);
        let mut s = String::with_capacity(n * 90);
        let noun = snake(unit.noun);
        for _ in 0..n {
            let ms = r.range(0, 999);
            let id = r.range(1000, 99999);
            let _ = match (unit.eco(), r.below(5)) {
                (_, 0) => writeln!(
                    s,
                    "GET /api/v1/{noun}s?customer={}&currency={}&page={} -> {} ({} ms)",
                    r.range(1, 999),
                    r.pick(words::CURRENCIES).to_uppercase(),
                    r.range(1, 9),
                    r.pick(&[200, 200, 201, 404, 409]),
                    r.range(1, 300)
                ),
                (_, 1) => writeln!(
                    s,
                    "<{noun} id=\"{id}\" status=\"pending\"/> => <{noun} id=\"{id}\" status=\"settled\"/>"
                ),
                (Eco::Java, _) => writeln!(
                    s,
                    "2025-03-14 09:{:02}:{:02}.{ms:03} INFO  [main] {}.{}{} - processed {noun} {id} in {} ms",
                    r.range(0, 59),
                    r.range(0, 59),
                    unit.package,
                    unit.noun,
                    unit.role,
                    r.range(1, 200)
                ),
                (Eco::Python, _) => writeln!(
                    s,
                    "DEBUG    {}:{}.py:{} loaded {} rows for {noun} {id} (amount > 0 & currency != 'XXX')",
                    unit.package,
                    snake(unit.role),
                    r.range(10, 400),
                    r.range(0, 500)
                ),
                (Eco::Js, _) => writeln!(
                    s,
                    "  console.log {{ id: {id}, currency: '{}', total: {}.{:02} }} ({}:{})",
                    r.pick(words::CURRENCIES),
                    r.range(0, 999),
                    r.range(0, 99),
                    unit.test_file,
                    r.range(10, 300)
                ),
            };
        }
        s
    }

    /// (type, message, stack trace text) for one failure or error.
    fn failure(&mut self, unit: &Unit, func: &str, error: bool) -> (String, String, String) {
        // 8 to 25 frames, skewed to the short end as most traces are.
        let u = self.rng.unit();
        let frames = 8 + (u.powi(6) * 18.0) as usize;
        match unit.eco() {
            Eco::Java => self.java_failure(unit, func, error, frames),
            Eco::Python => self.python_failure(unit, func, error, frames),
            Eco::Js => self.js_failure(unit, error, frames),
        }
    }

    fn java_failure(
        &mut self,
        unit: &Unit,
        func: &str,
        error: bool,
        frames: usize,
    ) -> (String, String, String) {
        let r = &mut self.rng;
        let a = r.range(1, 500);
        let (ty, msg) = if error {
            match r.below(4) {
                0 => (
                    "java.lang.NullPointerException",
                    "Cannot invoke \"String.length()\" because \"name\" is null".to_string(),
                ),
                1 => (
                    "java.lang.IllegalStateException",
                    "Connection pool shut down".to_string(),
                ),
                2 => (
                    "java.util.concurrent.TimeoutException",
                    format!(
                        "Timed out after {} seconds waiting for {} {a}",
                        r.range(5, 60),
                        spaced_lower(unit.noun)
                    ),
                ),
                _ => (
                    "org.springframework.dao.DataIntegrityViolationException",
                    format!(
                        "could not execute statement; SQL [n/a]; constraint [uk_{}_number]",
                        snake(unit.noun)
                    ),
                ),
            }
        } else {
            match r.below(4) {
                0 => (
                    "org.opentest4j.AssertionFailedError",
                    format!("expected: <{a}> but was: <{}>", a - 1),
                ),
                1 => (
                    "java.lang.AssertionError",
                    format!("expected {a} but was {}", a + 1),
                ),
                2 => (
                    "org.opentest4j.AssertionFailedError",
                    "expected: <true> but was: <false>".to_string(),
                ),
                _ => (
                    "java.lang.AssertionError",
                    format!(
                        "\nExpecting actual:\n  [\"EUR\", \"USD\"]\nto contain exactly (and in same order):\n  [\"EUR\", \"USD\", \"GBP\"]\nbut could not find the following elements:\n  [\"GBP\"]\n (case {a})"
                    ),
                ),
            }
        };
        let class = format!("{}{}", unit.noun, unit.role);
        // `com.acme.billing.InvoiceServiceTest$WhenEmpty` is declared in InvoiceServiceTest.java.
        let test_class = unit.classname.rsplit('.').next().unwrap_or(&unit.classname);
        let test_file = test_class.split('$').next().unwrap_or(test_class);
        let mut t = String::with_capacity(frames * 100);
        let _ = writeln!(t, "{ty}: {msg}");
        let mut written = 0;
        if !error {
            t.push_str("\tat org.junit.jupiter.api.AssertionFailureBuilder.build(AssertionFailureBuilder.java:151)\n");
            t.push_str(
                "\tat org.junit.jupiter.api.AssertEquals.assertEquals(AssertEquals.java:150)\n",
            );
            written += 2;
        } else {
            for _ in 0..r.range(1, 4) {
                let (v, _, _) = *r.pick(words::VERBS);
                let _ = writeln!(
                    t,
                    "\tat {}.{class}.{v}{}({}:{})",
                    unit.package,
                    r.pick(words::NOUNS),
                    unit.src_file,
                    r.range(20, 800)
                );
                written += 1;
            }
        }
        let _ = writeln!(
            t,
            "\tat {}.{func}({test_file}.java:{})",
            unit.classname,
            r.range(20, 600)
        );
        written += 1;
        for f in words::JAVA_FRAMEWORK_FRAMES
            .iter()
            .take(frames.saturating_sub(written))
        {
            let _ = writeln!(t, "\tat {f}");
        }
        if error && r.chance(0.2) {
            let _ = writeln!(
                t,
                "Caused by: java.sql.SQLException: Connection is not available, request timed out after {}ms.",
                r.range(1000, 30000)
            );
            t.push_str("\tat com.zaxxer.hikari.pool.HikariPool.createTimeoutException(HikariPool.java:696)\n");
            t.push_str(
                "\tat com.zaxxer.hikari.pool.HikariPool.getConnection(HikariPool.java:181)\n",
            );
            let _ = writeln!(t, "\t... {} more", r.range(20, 60));
        }
        (ty.to_string(), msg, t)
    }

    fn python_failure(
        &mut self,
        unit: &Unit,
        func: &str,
        error: bool,
        frames: usize,
    ) -> (String, String, String) {
        let r = &mut self.rng;
        let a = r.range(1, 500);
        let (ty, detail) = if error {
            match r.below(3) {
                0 => ("KeyError", "'currency'".to_string()),
                1 => ("AttributeError", "'NoneType' object has no attribute 'amount'".to_string()),
                _ => (
                    "psycopg2.OperationalError",
                    "could not connect to server: Connection refused\n\tIs the server running on host \"localhost\" (127.0.0.1) and accepting\n\tTCP/IP connections on port 5432?".to_string(),
                ),
            }
        } else {
            match r.below(4) {
                0 => ("AssertionError", format!("assert {} == {a}", a - 1)),
                1 => ("AssertionError", format!("expected {a} but was {}", a - 1)),
                2 => (
                    "TimeoutError",
                    format!(
                        "timed out after {}.0s waiting for '{}.settled' event",
                        r.range(5, 60),
                        snake(unit.noun)
                    ),
                ),
                _ => (
                    "AssertionError",
                    "assert 'GBP' in ['EUR', 'USD']".to_string(),
                ),
            }
        };
        let msg = if error {
            format!("failed on setup with \"{ty}: {detail}\"")
        } else {
            format!("{ty}: {detail}")
        };
        let mut t = String::with_capacity(frames * 110);
        let (receiver, params) = if unit.classname == unit.group.name {
            (String::new(), "")
        } else {
            (
                format!(
                    "self = <{} object at 0x7f{:010x}>\n\n",
                    unit.classname,
                    r.next_u64() & 0xff_ffff_ffff
                ),
                "self",
            )
        };
        let var = snake(unit.noun);
        let _ = write!(
            t,
            "{receiver}    def {func}({params}):\n        {var} = make_{var}(amount=Decimal(\"{a}.50\"), currency=\"EUR\")\n>       assert {var}.total() == {a}\n",
        );
        let _ = writeln!(t, "\n{}:{}: ", unit.test_file, r.range(20, 900));
        for i in 1..frames {
            if i % 3 == 0 {
                let (path, f, code) = *r.pick(words::PY_LIBRARY_FRAMES);
                let _ = writeln!(t, "{path}: in {f}\n    {code}");
            } else {
                let (v, _, _) = *r.pick(words::VERBS);
                let _ = writeln!(
                    t,
                    "{}:{}: in {v}_{}\n    return self._{v}({}, rounding=ROUND_HALF_EVEN)",
                    unit.src_file,
                    r.range(10, 700),
                    snake(unit.noun),
                    snake(unit.noun)
                );
            }
        }
        for (i, line) in detail.lines().enumerate() {
            if i == 0 {
                let _ = writeln!(t, "E   {ty}: {line}");
            } else {
                let _ = writeln!(t, "E   {line}");
            }
        }
        let _ = write!(t, "\n{}:{}: {ty}", unit.src_file, r.range(10, 700));
        (ty.to_string(), msg, t)
    }

    fn js_failure(&mut self, unit: &Unit, error: bool, frames: usize) -> (String, String, String) {
        let r = &mut self.rng;
        let a = r.range(1, 500);
        let (ty, msg) = if error {
            match r.below(2) {
                0 => (
                    "TypeError",
                    "Cannot read properties of undefined (reading 'amount')".to_string(),
                ),
                _ => ("ReferenceError", "fetch is not defined".to_string()),
            }
        } else {
            match r.below(3) {
                0 => (
                    "Error",
                    format!("expect(received).toBe(expected) // Object.is equality\n\nExpected: {a}\nReceived: {}", a + 1),
                ),
                1 => ("TimeoutError", format!("Exceeded timeout of {} ms for a test.", r.pick(&[5000, 10000, 30000]))),
                _ => (
                    "Error",
                    "expect(received).toEqual(expected) // deep equality\n\n- Expected  - 1\n+ Received  + 1\n\n  Object {\n-   \"currency\": \"EUR\",\n+   \"currency\": \"USD\",\n  }".to_string(),
                ),
            }
        };
        let mut t = String::with_capacity(frames * 110);
        let _ = writeln!(t, "{ty}: {msg}");
        let _ = writeln!(
            t,
            "    at Object.<anonymous> ({}/{}:{}:{})",
            unit.group.root,
            unit.test_file,
            r.range(10, 400),
            r.range(3, 40)
        );
        let app = r.range(1, 4).min(frames - 1);
        for _ in 0..app {
            let _ = writeln!(
                t,
                "    at {}{}.{} ({}/{}:{}:{})",
                unit.noun,
                unit.role,
                r.pick(words::JS_METHODS),
                unit.group.root,
                unit.src_file,
                r.range(10, 400),
                r.range(3, 40)
            );
        }
        for i in 0..frames.saturating_sub(app + 1) {
            let f = words::JS_FRAMEWORK_FRAMES[i % words::JS_FRAMEWORK_FRAMES.len()];
            if f.contains("node_modules/") {
                let _ = writeln!(
                    t,
                    "    at {}",
                    f.replacen('(', &format!("({}/", unit.group.root), 1)
                );
            } else {
                let _ = writeln!(t, "    at {f}");
            }
        }
        (ty.to_string(), msg, t)
    }
}

/// Makes repeated parameter labels distinct once a list wraps around.
fn suffix(i: usize, len: usize) -> String {
    if i < len {
        String::new()
    } else {
        format!("-{}", i / len)
    }
}

fn escaped(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    esc_text(&mut out, s);
    out
}

pub fn esc_text(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
}

/// Attribute values also escape quotes, and newlines/tabs so they survive attribute
/// normalisation (a raw newline in an attribute would be read back as a space).
pub fn esc_attr(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\n' => out.push_str("&#10;"),
            '\t' => out.push_str("&#9;"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn gen_into(dir: &Path, cases: usize, shards: usize, seed: u64) -> (GenSummary, Vec<String>) {
        let s = generate(
            GenParams {
                cases,
                shards,
                seed,
                suite_median: DEFAULT_SUITE_MEDIAN,
            },
            dir,
        )
        .unwrap();
        let texts = s
            .files
            .iter()
            .map(|f| fs::read_to_string(f).unwrap())
            .collect();
        (s, texts)
    }

    #[test]
    fn counts_match_the_request_and_the_files() {
        let dir = std::env::temp_dir().join(format!("dtf-xtask-gen-{}", std::process::id()));
        for (cases, shards) in [(20_000usize, 8usize), (1, 1), (7, 3), (0, 2)] {
            let (s, texts) = gen_into(&dir, cases, shards, 1);
            assert_eq!(s.files.len(), shards);
            let found: usize = texts.iter().map(|t| t.matches("<testcase ").count()).sum();
            assert_eq!(found, cases, "cases={cases} shards={shards}");
            assert_eq!(s.testcases as usize, cases);
            assert_eq!(s.bytes, texts.iter().map(|t| t.len() as u64).sum::<u64>());
            let failures: usize = texts.iter().map(|t| t.matches("<failure ").count()).sum();
            assert_eq!(failures as u64, s.failures);
            for t in &texts {
                assert!(t.starts_with("<?xml"));
                assert!(t.ends_with("</testsuites>\n"));
                assert_eq!(
                    t.matches("<testsuite ").count(),
                    t.matches("</testsuite>").count()
                );
            }
        }
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn rates_are_roughly_as_documented() {
        let dir = std::env::temp_dir().join(format!("dtf-xtask-rates-{}", std::process::id()));
        let (s, texts) = gen_into(&dir, 50_000, 8, 3);
        let rate = |n: u64| n as f64 / s.testcases as f64;
        assert!(
            (0.025..0.04).contains(&rate(s.failures)),
            "failures {}",
            rate(s.failures)
        );
        assert!(
            (0.003..0.008).contains(&rate(s.errors)),
            "errors {}",
            rate(s.errors)
        );
        assert!(
            (0.015..0.025).contains(&rate(s.skipped)),
            "skipped {}",
            rate(s.skipped)
        );
        assert!(
            (0.006..0.015).contains(&rate(s.retries)),
            "retries {}",
            rate(s.retries)
        );
        assert!(s.flaky > 0 && s.flaky < s.retries);
        let out: usize = texts
            .iter()
            .map(|t| t.matches("<system-out>").count())
            .sum();
        assert!((0.08..0.12).contains(&(out as f64 / s.testcases as f64)));
        // About 210 bytes per case is what the benchmark's sizes are quoted for.
        let per_case = s.bytes as f64 / s.testcases as f64;
        assert!(
            (180.0..240.0).contains(&per_case),
            "bytes per case {per_case}"
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    /// Every id appears once, except retries, which appear exactly twice and in different files.
    #[test]
    fn ids_are_unique_except_retries_in_later_files() {
        let dir = std::env::temp_dir().join(format!("dtf-xtask-ids-{}", std::process::id()));
        let (s, texts) = gen_into(&dir, 30_000, 4, 5);
        let attr = |tag: &str, key: &str| -> String {
            let start = tag.find(&format!(" {key}=\"")).unwrap() + key.len() + 3;
            let len = tag[start..].find('"').unwrap();
            tag[start..start + len].to_string()
        };
        let mut seen: std::collections::HashMap<(String, String), Vec<usize>> = Default::default();
        for (file, text) in texts.iter().enumerate() {
            for chunk in text.split("<testcase ").skip(1) {
                let tag = &chunk[..chunk.find('>').unwrap()];
                let tag = format!(" {tag}");
                seen.entry((attr(&tag, "classname"), attr(&tag, "name")))
                    .or_default()
                    .push(file);
            }
        }
        assert_eq!(seen.len() as u64, s.unique_tests);
        let twice: Vec<&Vec<usize>> = seen.values().filter(|f| f.len() > 1).collect();
        assert_eq!(twice.len() as u64, s.retries);
        assert!(twice.iter().all(|f| f.len() == 2 && f[0] < f[1]));
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn suite_size_sets_how_many_suites_there_are() {
        let dir = std::env::temp_dir().join(format!("dtf-xtask-suites-{}", std::process::id()));
        // Suite counts include the rerun suites that hold retries.
        for (median, lo, hi) in [(10usize, 1000u64, 1800u64), (250, 40, 120)] {
            let params = GenParams {
                cases: 20_000,
                shards: 2,
                seed: 1,
                suite_median: median,
            };
            let s = generate(params, &dir).unwrap();
            assert!(
                (lo..hi).contains(&s.suites),
                "median {median}: {} suites",
                s.suites
            );
        }
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn same_seed_same_bytes() {
        let base = std::env::temp_dir().join(format!("dtf-xtask-det-{}", std::process::id()));
        let (_, a) = gen_into(&base.join("a"), 3000, 3, 9);
        let (_, b) = gen_into(&base.join("b"), 3000, 3, 9);
        let (_, c) = gen_into(&base.join("c"), 3000, 3, 10);
        assert_eq!(a, b);
        assert_ne!(a, c);
        fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn escaping() {
        let check = |f: fn(&mut String, &str), input: &str, expected: &str| {
            let mut s = String::new();
            f(&mut s, input);
            assert_eq!(s, expected);
        };
        check(esc_text, "a < b && \"c\"", "a &lt; b &amp;&amp; \"c\"");
        check(
            esc_attr,
            "say \"hi\"\n\tok",
            "say &quot;hi&quot;&#10;&#9;ok",
        );
        check(esc_attr, "Łódź > 東京", "Łódź &gt; 東京");
    }
}
