//! Provider-ready forms of a plan: the text a CI configuration pastes in or reads at
//! run time, so that the number of jobs and the runners they need follow the plan.
//!
//! | format | what it is | job limit |
//! |---|---|---|
//! | `github-matrix` | compact JSON for `strategy: matrix: ${{ fromJSON(needs.plan.outputs.matrix) }}` | 256 (GitHub's matrix limit) |
//! | `gitlab-parallel` | the value of a job's `parallel:`: a count, or `parallel: matrix:` with tags | 200 (GitLab's `parallel` limit) |
//! | `gitlab-child-pipeline` | a complete child pipeline, one job per shard | none enforced |
//! | `jenkins` | compact JSON for a scripted `parallel` map | none |
//! | `azure-matrix` | compact JSON for `strategy: matrix: $[ dependencies.plan.outputs['emit.matrix'] ]` | none documented |
//!
//! Shared conventions:
//! - every form carries the plan's 1-based shard index and total, and jobs run
//!   `dtf run --plan plan.json --shard K` (configurable: [`EmitOptions::command`]);
//! - a pool selects runners by its labels; a pool without labels by its name;
//! - a plan in several waves needs its waves in order, which one matrix cannot
//!   express: matrix forms refuse it unless [`EmitOptions::wave`] picks one wave (one
//!   matrix job per wave, each `needs` the previous). The child pipeline orders waves
//!   itself, with one stage each;
//! - a plan larger than a provider's job limit is refused with the number of parts it
//!   needs; [`EmitOptions::part`] emits one part (1-based) of at most the limit.
//!
//! The JSON forms are single lines on purpose: GitHub step outputs and Azure
//! `task.setvariable` take one line. YAML is written by hand (no YAML library is a
//! dependency): every string that is not plainly safe is double-quoted.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;
use serde_json::Value;

use crate::explain::human_duration;
use crate::model::{Plan, PlannedShard};

/// Most jobs one GitHub Actions matrix may generate.
pub const GITHUB_MATRIX_LIMIT: usize = 256;
/// Most jobs one GitLab `parallel:` (count or matrix) may generate.
pub const GITLAB_PARALLEL_LIMIT: usize = 200;

/// The provider-ready forms, by their `--emit` names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EmitFormat {
    GithubMatrix,
    GitlabParallel,
    GitlabChildPipeline,
    Jenkins,
    AzureMatrix,
}

impl EmitFormat {
    pub const ALL: [EmitFormat; 5] = [
        EmitFormat::GithubMatrix,
        EmitFormat::GitlabParallel,
        EmitFormat::GitlabChildPipeline,
        EmitFormat::Jenkins,
        EmitFormat::AzureMatrix,
    ];

    pub fn name(self) -> &'static str {
        match self {
            EmitFormat::GithubMatrix => "github-matrix",
            EmitFormat::GitlabParallel => "gitlab-parallel",
            EmitFormat::GitlabChildPipeline => "gitlab-child-pipeline",
            EmitFormat::Jenkins => "jenkins",
            EmitFormat::AzureMatrix => "azure-matrix",
        }
    }

    /// Most shards one emitted form may hold, when the provider has a limit.
    pub fn job_limit(self) -> Option<usize> {
        match self {
            EmitFormat::GithubMatrix => Some(GITHUB_MATRIX_LIMIT),
            EmitFormat::GitlabParallel => Some(GITLAB_PARALLEL_LIMIT),
            _ => None,
        }
    }
}

impl fmt::Display for EmitFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for EmitFormat {
    type Err = EmitError;

    fn from_str(s: &str) -> Result<EmitFormat, EmitError> {
        EmitFormat::ALL
            .into_iter()
            .find(|f| f.name() == s)
            .ok_or_else(|| EmitError::UnknownFormat { name: s.to_owned() })
    }
}

/// Choices shared by the forms; [`Default`] gives dtf's conventions.
///
/// `command` and `artifact` are templates: `{shard}`, `{total}`, `{pool}` and `{wave}`
/// are replaced per shard.
#[derive(Clone, Debug, PartialEq)]
pub struct EmitOptions {
    /// What each shard job runs (gitlab-child-pipeline).
    pub command: String,
    /// The shard bundle each job keeps as an artifact (gitlab-child-pipeline).
    pub artifact: String,
    /// The parent pipeline's job that wrote `plan.json` (gitlab-child-pipeline).
    pub plan_job: String,
    /// The stage of the shard jobs (gitlab-child-pipeline); waves get `STAGE-wave-W`.
    pub stage: String,
    /// Emit only the shards of this wave.
    pub wave: Option<u32>,
    /// Emit only this part (1-based) of a plan larger than the provider's job limit.
    pub part: Option<u32>,
}

impl Default for EmitOptions {
    fn default() -> Self {
        EmitOptions {
            command: "dtf run --plan plan.json --shard {shard}".to_owned(),
            artifact: "dtf-shard-{shard}.zip".to_owned(),
            plan_job: "dtf-plan".to_owned(),
            stage: "test".to_owned(),
            wave: None,
            part: None,
        }
    }
}

/// A plan that cannot be put in the requested form.
#[derive(Debug, thiserror::Error)]
pub enum EmitError {
    #[error(
        "unknown emit format `{name}` (known: github-matrix, gitlab-parallel, \
         gitlab-child-pipeline, jenkins, azure-matrix)"
    )]
    UnknownFormat { name: String },
    #[error("the plan has no shards: there is nothing to emit")]
    NoShards,
    #[error(
        "the plan runs in {} waves ({}) and one {format} starts all of its jobs at once: \
         emit each wave on its own (--wave N) and run them in order",
        waves.len(),
        waves.iter().map(u32::to_string).collect::<Vec<_>>().join(", ")
    )]
    Waves { format: EmitFormat, waves: Vec<u32> },
    #[error("no shard of the plan is in wave {wave} (waves: {})",
        waves.iter().map(u32::to_string).collect::<Vec<_>>().join(", "))]
    NoSuchWave { wave: u32, waves: Vec<u32> },
    #[error(
        "{shards} shards are more than the {limit} jobs one {format} may hold: emit it in \
         {parts} parts (--part 1 to --part {parts}), one matrix job each, or plan fewer shards"
    )]
    TooManyJobs {
        format: EmitFormat,
        shards: usize,
        limit: usize,
        parts: usize,
    },
    #[error(
        "part {part} does not exist: this {format} has {parts} part(s) of at most {limit} shards"
    )]
    NoSuchPart {
        format: EmitFormat,
        part: u32,
        parts: usize,
        limit: usize,
    },
}

/// Writes `plan` in `format`.
pub fn emit(plan: &Plan, format: EmitFormat, options: &EmitOptions) -> Result<String, EmitError> {
    let shards = select(plan, format, options)?;
    let ctx = Ctx {
        plan,
        total: plan.shards.len(),
        multi_wave: plan.waves().len() > 1,
        options,
    };
    Ok(match format {
        EmitFormat::GithubMatrix => github_matrix(&ctx, &shards),
        EmitFormat::GitlabParallel => gitlab_parallel(&ctx, &shards),
        EmitFormat::GitlabChildPipeline => gitlab_child_pipeline(&ctx, &shards),
        EmitFormat::Jenkins => jenkins(&ctx, &shards),
        EmitFormat::AzureMatrix => azure_matrix(&ctx, &shards),
    })
}

struct Ctx<'a> {
    plan: &'a Plan,
    /// Shards in the whole plan (what `total` says everywhere).
    total: usize,
    /// The plan has more than one wave: forms say which wave a shard is in.
    multi_wave: bool,
    options: &'a EmitOptions,
}

/// The shards to emit: the chosen wave, the chosen part, in index order.
fn select<'a>(
    plan: &'a Plan,
    format: EmitFormat,
    options: &EmitOptions,
) -> Result<Vec<&'a PlannedShard>, EmitError> {
    if plan.shards.is_empty() {
        return Err(EmitError::NoShards);
    }
    let waves = plan.waves();
    let mut shards: Vec<&PlannedShard> = match options.wave {
        Some(wave) => {
            let s: Vec<_> = plan.shards.iter().filter(|s| s.wave == wave).collect();
            if s.is_empty() {
                return Err(EmitError::NoSuchWave { wave, waves });
            }
            s
        }
        None if waves.len() > 1 && format != EmitFormat::GitlabChildPipeline => {
            return Err(EmitError::Waves { format, waves });
        }
        None => plan.shards.iter().collect(),
    };
    shards.sort_by_key(|s| s.index);
    let Some(limit) = format.job_limit() else {
        return match options.part {
            None | Some(1) => Ok(shards),
            Some(part) => Err(EmitError::NoSuchPart {
                format,
                part,
                parts: 1,
                limit: shards.len(),
            }),
        };
    };
    let parts = shards.len().div_ceil(limit);
    match options.part {
        None if parts > 1 => Err(EmitError::TooManyJobs {
            format,
            shards: shards.len(),
            limit,
            parts,
        }),
        None => Ok(shards),
        Some(part) if part == 0 || part as usize > parts => Err(EmitError::NoSuchPart {
            format,
            part,
            parts,
            limit,
        }),
        Some(part) => {
            let start = (part as usize - 1) * limit;
            let end = (start + limit).min(shards.len());
            Ok(shards[start..end].to_vec())
        }
    }
}

/// The labels that select a shard's runners: its pool's, or the pool's name.
fn labels(s: &PlannedShard) -> Vec<&str> {
    if s.labels.is_empty() {
        vec![s.pool.as_str()]
    } else {
        s.labels.iter().map(String::as_str).collect()
    }
}

fn fill(template: &str, ctx: &Ctx<'_>, s: &PlannedShard) -> String {
    template
        .replace("{shard}", &s.index.to_string())
        .replace("{total}", &ctx.total.to_string())
        .replace("{pool}", &s.pool)
        .replace("{wave}", &s.wave.to_string())
}

fn json<T: Serialize>(value: &T) -> String {
    // Strings, numbers and lists: serialising cannot fail.
    serde_json::to_string(value).unwrap_or_default()
}

/// A JSON object whose keys keep the given order (serde_json's map would sort
/// `shard-10` before `shard-2`).
fn ordered_object(entries: impl IntoIterator<Item = (String, String)>) -> String {
    let body: Vec<String> = entries
        .into_iter()
        .map(|(k, v)| format!("{}:{v}", json(&k)))
        .collect();
    format!("{{{}}}\n", body.join(","))
}

#[derive(Serialize)]
struct GithubEntry<'a> {
    shard: u32,
    total: usize,
    pool: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    wave: Option<u32>,
    #[serde(rename = "runs-on")]
    runs_on: Value,
}

#[derive(Serialize)]
struct GithubMatrix<'a> {
    include: Vec<GithubEntry<'a>>,
}

/// `{"include":[...]}`: with no other matrix keys, each `include` entry is one job.
fn github_matrix(ctx: &Ctx<'_>, shards: &[&PlannedShard]) -> String {
    let include = shards
        .iter()
        .map(|s| {
            let labels = labels(s);
            let runs_on = match labels.as_slice() {
                [one] => Value::from(*one),
                many => Value::from(many.to_vec()),
            };
            GithubEntry {
                shard: s.index,
                total: ctx.total,
                pool: &s.pool,
                wave: ctx.multi_wave.then_some(s.wave),
                runs_on,
            }
        })
        .collect();
    let mut out = json(&GithubMatrix { include });
    out.push('\n');
    out
}

/// A count when one `parallel: N` reproduces the plan (same runners, shards 1..=N);
/// otherwise `parallel: matrix:` with one entry per pool.
///
/// GitLab expands matrix variables in `tags:`, one variable per tag, so each entry
/// carries `DTF_TAG_1..DTF_TAG_K`, K being the most labels any pool has; a pool with
/// fewer repeats its last label (a repeated tag selects the same runners).
fn gitlab_parallel(ctx: &Ctx<'_>, shards: &[&PlannedShard]) -> String {
    let first = shards.first().map(|s| labels(s)).unwrap_or_default();
    let uniform = shards.iter().all(|s| labels(s) == first);
    let contiguous = shards
        .iter()
        .enumerate()
        .all(|(i, s)| s.index as usize == i + 1);
    if uniform && contiguous {
        return format!("{}\n", shards.len());
    }
    // One entry per (pool, labels, wave), in order of first shard.
    let mut groups: Vec<(&PlannedShard, Vec<u32>)> = Vec::new();
    for s in shards {
        match groups
            .iter_mut()
            .find(|(g, _)| g.pool == s.pool && g.labels == s.labels && g.wave == s.wave)
        {
            Some((_, list)) => list.push(s.index),
            None => groups.push((s, vec![s.index])),
        }
    }
    let tags = groups
        .iter()
        .map(|(g, _)| labels(g).len())
        .max()
        .unwrap_or(1);
    let tag_vars: Vec<String> = (1..=tags).map(|k| format!("$DTF_TAG_{k}")).collect();
    let mut out = String::new();
    out.push_str(&format!(
        "# dtf plan: {} of {} shards; in the job use\n#   tags: [{}]\n#   script: {}\n",
        shards.len(),
        ctx.total,
        tag_vars.join(", "),
        comment(&ctx.options.command.replace("{shard}", "$DTF_SHARD")),
    ));
    out.push_str("parallel:\n  matrix:\n");
    for (g, list) in &groups {
        let quoted: Vec<String> = list.iter().map(|i| format!("\"{i}\"")).collect();
        out.push_str(&format!("    - DTF_SHARD: [{}]\n", quoted.join(", ")));
        out.push_str(&format!("      DTF_TOTAL: \"{}\"\n", ctx.total));
        out.push_str(&format!("      DTF_POOL: {}\n", yaml_str(&g.pool)));
        if ctx.multi_wave {
            out.push_str(&format!("      DTF_WAVE: \"{}\"\n", g.wave));
        }
        let l = labels(g);
        for k in 0..tags {
            let tag = l.get(k).or(l.last()).copied().unwrap_or(g.pool.as_str());
            out.push_str(&format!("      DTF_TAG_{}: {}\n", k + 1, yaml_str(tag)));
        }
    }
    out
}

/// A child pipeline with one job per shard.
///
/// Jobs fetch `plan.json` from the parent pipeline with `needs: pipeline:`, which the
/// parent enables by passing its id when it triggers this file:
///
/// ```yaml
/// dtf-shards:
///   trigger:
///     include:
///       - artifact: dtf-child.yml
///         job: dtf-plan
///     strategy: depend
///   variables:
///     PARENT_PIPELINE_ID: $CI_PIPELINE_ID
/// ```
///
/// With waves, each wave is a stage. A job with `needs` ignores stage order, so only
/// the first wave uses `needs:`; it keeps `plan.json` among its artifacts, and later
/// waves (no `needs`: they wait for every earlier stage) take it from the first job
/// of the first wave with `dependencies:`. Later waves run `when: always`, so that one
/// failing test does not drop the results of every test ordered after it.
fn gitlab_child_pipeline(ctx: &Ctx<'_>, shards: &[&PlannedShard]) -> String {
    let opts = ctx.options;
    let mut waves: Vec<u32> = shards.iter().map(|s| s.wave).collect();
    waves.sort_unstable();
    waves.dedup();
    let staged = waves.len() > 1;
    let stage_of = |wave: u32| {
        if staged {
            format!("{}-wave-{wave}", opts.stage)
        } else {
            opts.stage.clone()
        }
    };
    let first_wave = waves.first().copied().unwrap_or(0);
    let first_job = shards
        .iter()
        .find(|s| s.wave == first_wave)
        .map_or(1, |s| s.index);

    let mut out = String::new();
    out.push_str(&format!(
        "# Generated by `dtf plan` (strategy {}): {} of {} shards, predicted wall time {}.\n",
        comment(&ctx.plan.strategy),
        shards.len(),
        ctx.total,
        human_duration(ctx.plan.predicted_wall_s),
    ));
    out.push_str(&format!(
        "# Trigger it with `variables: {{PARENT_PIPELINE_ID: $CI_PIPELINE_ID}}`: each shard\n\
         # fetches plan.json from job `{}` of that pipeline.\n",
        comment(&opts.plan_job)
    ));
    out.push_str("stages:\n");
    for w in &waves {
        out.push_str(&format!("  - {}\n", yaml_str(&stage_of(*w))));
    }
    for s in shards {
        out.push('\n');
        out.push_str(&format!(
            "{}:\n",
            yaml_str(&format!("dtf-shard-{}", s.index))
        ));
        out.push_str(&format!("  stage: {}\n", yaml_str(&stage_of(s.wave))));
        // A pool without labels runs anywhere: its name is no runner tag, and a job
        // with tags no runner has would wait forever.
        if !s.labels.is_empty() {
            out.push_str("  tags:\n");
            for l in &s.labels {
                out.push_str(&format!("    - {}\n", yaml_str(l)));
            }
        }
        out.push_str("  variables:\n");
        out.push_str(&format!("    DTF_SHARD: \"{}\"\n", s.index));
        out.push_str(&format!("    DTF_TOTAL: \"{}\"\n", ctx.total));
        let later = staged && s.wave != first_wave;
        if later {
            out.push_str("  when: always\n");
            out.push_str("  dependencies:\n");
            out.push_str(&format!(
                "    - {}\n",
                yaml_str(&format!("dtf-shard-{first_job}"))
            ));
        } else {
            out.push_str("  needs:\n");
            out.push_str("    - pipeline: $PARENT_PIPELINE_ID\n");
            out.push_str(&format!("      job: {}\n", yaml_str(&opts.plan_job)));
        }
        out.push_str("  script:\n");
        out.push_str(&format!(
            "    - {}\n",
            yaml_str(&fill(&opts.command, ctx, s))
        ));
        out.push_str("  artifacts:\n");
        out.push_str("    when: always\n");
        out.push_str("    paths:\n");
        out.push_str(&format!(
            "      - {}\n",
            yaml_str(&fill(&opts.artifact, ctx, s))
        ));
        if staged && !later {
            out.push_str("      - plan.json\n");
        }
    }
    out
}

#[derive(Serialize)]
struct JenkinsEntry<'a> {
    label: String,
    pool: &'a str,
    shard: u32,
    total: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    wave: Option<u32>,
    tests: &'a [String],
}

/// `{"shard-1": {"label": "linux && docker", ...}}`, for
/// `parallel(readJSON(text: ...).collectEntries { name, s -> [(name): { node(s.label) { ... } }] })`.
fn jenkins(ctx: &Ctx<'_>, shards: &[&PlannedShard]) -> String {
    ordered_object(shards.iter().map(|s| {
        let label = labels(s)
            .into_iter()
            .map(jenkins_label)
            .collect::<Vec<_>>()
            .join(" && ");
        let entry = JenkinsEntry {
            label,
            pool: &s.pool,
            shard: s.index,
            total: ctx.total,
            wave: ctx.multi_wave.then_some(s.wave),
            tests: &s.tests,
        };
        (format!("shard-{}", s.index), json(&entry))
    }))
}

/// One label as an atom of a Jenkins label expression: quoted when it holds
/// whitespace or operator characters.
fn jenkins_label(label: &str) -> String {
    let special = label.is_empty()
        || label.contains("->")
        || label
            .chars()
            .any(|c| c.is_whitespace() || "&|!()<>\"\\".contains(c));
    if !special {
        return label.to_owned();
    }
    let escaped = label.replace('\\', "\\\\").replace('"', "\\\"");
    format!("\"{escaped}\"")
}

/// `{"shard_1": {"shard": "1", ...}}`: Azure matrix values are strings, and names
/// must be letters, digits and `_`, starting with a letter.
///
/// A pool's first label is the Azure agent pool name, the others its demands (one
/// demand each, such as `Agent.OS -equals Linux`). `demands` lists them for people;
/// a job uses `demand_1..demand_K` (K being the most demands any pool has), a pool
/// with fewer repeats its last one, and a pool with none demands `Agent.Name`, which
/// every agent has:
///
/// ```yaml
/// pool:
///   name: $(pool)
///   demands: [$(demand_1), $(demand_2)]
/// ```
fn azure_matrix(ctx: &Ctx<'_>, shards: &[&PlannedShard]) -> String {
    let demands_of =
        |s: &PlannedShard| -> Vec<String> { s.labels.iter().skip(1).cloned().collect() };
    let most = shards
        .iter()
        .map(|s| demands_of(s).len())
        .max()
        .unwrap_or(0);
    ordered_object(shards.iter().map(|s| {
        let demands = demands_of(s);
        let mut fields: Vec<(String, String)> = vec![
            ("shard".into(), s.index.to_string()),
            ("total".into(), ctx.total.to_string()),
            (
                "pool".into(),
                labels(s).first().copied().unwrap_or(&s.pool).to_owned(),
            ),
            ("dtf_pool".into(), s.pool.clone()),
        ];
        if ctx.multi_wave {
            fields.push(("wave".into(), s.wave.to_string()));
        }
        fields.push(("demands".into(), demands.join("; ")));
        for k in 0..most {
            let d = demands
                .get(k)
                .or(demands.last())
                .map_or("Agent.Name", String::as_str);
            fields.push((format!("demand_{}", k + 1), d.to_owned()));
        }
        let body = ordered_object(fields.into_iter().map(|(k, v)| (k, json(&v))));
        (format!("shard_{}", s.index), body.trim_end().to_owned())
    }))
}

/// A YAML scalar for `s`: plain when that reads back as the same string, else
/// double-quoted with escapes.
pub(crate) fn yaml_str(s: &str) -> String {
    if yaml_plain_ok(s) {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\u{85}' | '\u{2028}' | '\u{2029}' | '\u{feff}' => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn yaml_plain_ok(s: &str) -> bool {
    const RESERVED: [&str; 12] = [
        "true", "false", "yes", "no", "on", "off", "y", "n", "null", "~", "<<", "=",
    ];
    let Some(first) = s.chars().next() else {
        return false;
    };
    if !(first.is_ascii_alphabetic() || "_$/".contains(first)) {
        return false;
    }
    if RESERVED.iter().any(|r| r.eq_ignore_ascii_case(s)) {
        return false;
    }
    if s.ends_with(' ') || s.ends_with(':') || s.contains(": ") || s.contains(" #") {
        return false;
    }
    s.chars()
        .all(|c| c.is_ascii_alphanumeric() || " _-./$=+@()".contains(c) || c == ':')
}

/// Text safe inside a `#` comment line.
fn comment(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}
