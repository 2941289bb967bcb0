//! Small, pure conversions from provider spellings to dtf's.
//!
//! Kept apart from detection so each quirk (ref prefixes, tag list formats, credentials
//! in URLs) has its own table of cases.

use dtf_core::metadata::Provider;

/// A provider name as `DTF_PROVIDER` or a command line accepts it: the names dtf prints
/// (`github`, `gitlab`, `jenkins`, `azure-pipelines`, `local`) plus common aliases, in
/// any case.
pub fn provider_from_name(name: &str) -> Option<Provider> {
    let name = name.trim().to_ascii_lowercase();
    let provider = match name.as_str() {
        "github" | "github-actions" | "gha" => Provider::Github,
        "gitlab" | "gitlab-ci" => Provider::Gitlab,
        "jenkins" => Provider::Jenkins,
        "azure-pipelines" | "azure" | "azure-devops" | "ado" => Provider::AzurePipelines,
        "local" | "none" => Provider::Local,
        _ => return None,
    };
    Some(provider)
}

/// The branch a ref names: `refs/heads/x` and plain `x` give `x`; any other `refs/...`
/// (tags, pull request merge refs) names no branch.
pub fn branch_from_ref(reference: &str) -> Option<String> {
    if let Some(branch) = reference.strip_prefix("refs/heads/") {
        return non_empty(branch);
    }
    if reference.starts_with("refs/") {
        return None;
    }
    non_empty(reference)
}

/// Jenkins' Git plugin reports the remote-tracking branch (`origin/main`); dtf wants the
/// branch as the repository knows it.
pub fn branch_from_jenkins_git(branch: &str) -> Option<String> {
    let branch = branch
        .strip_prefix("refs/remotes/origin/")
        .or_else(|| branch.strip_prefix("origin/"))
        .unwrap_or(branch);
    branch_from_ref(branch)
}

/// What the pull request segment of a `refs/pull/<n>/merge` ref says: `None` for any
/// other ref, `Some(Err(()))` when the segment is not a number.
pub fn pull_number_from_ref(reference: &str) -> Option<Result<u64, ()>> {
    let rest = reference.strip_prefix("refs/pull/")?;
    let number = rest.split('/').next().unwrap_or_default();
    Some(number.parse().map_err(|_| ()))
}

/// GitLab's `CI_RUNNER_TAGS`: a JSON array of strings on current versions
/// (`["docker", "linux"]`), a comma-separated list on older ones. Parsed by hand and
/// leniently, since a runner tag cannot hold a comma or a quote anyway.
pub fn runner_tags(value: &str) -> Vec<String> {
    let value = value.trim();
    let inner = value
        .strip_prefix('[')
        .and_then(|v| v.strip_suffix(']'))
        .unwrap_or(value);
    let mut tags = Vec::new();
    for item in inner.split(',') {
        let item = item.trim();
        let item = strip_quotes(item, '"')
            .or_else(|| strip_quotes(item, '\''))
            .unwrap_or(item)
            .trim();
        push_unique(&mut tags, item);
    }
    tags
}

/// Jenkins' `NODE_LABELS`: whitespace-separated. Jenkins lists the node's own name as a
/// label of itself; that says nothing `runner_name` does not, so it is dropped.
pub fn node_labels(value: &str, node_name: Option<&str>) -> Vec<String> {
    let mut labels = Vec::new();
    for label in value.split_whitespace() {
        if Some(label) != node_name {
            push_unique(&mut labels, label);
        }
    }
    labels
}

/// A URL without any `user:password@` part: Git remotes in CI are sometimes configured
/// with credentials inline, and a result file must never carry them.
pub fn strip_userinfo(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_owned();
    };
    let authority_start = scheme_end + 3;
    let rest = &url[authority_start..];
    let authority_len = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_len].rfind('@') {
        Some(at) => format!("{}{}", &url[..authority_start], &rest[at + 1..]),
        None => url.to_owned(),
    }
}

/// Percent-encodes everything but RFC 3986's unreserved characters, for one path segment
/// or query value (Azure project names may hold spaces).
pub fn encode_component(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

fn strip_quotes(item: &str, quote: char) -> Option<&str> {
    item.strip_prefix(quote)?.strip_suffix(quote)
}

fn push_unique(list: &mut Vec<String>, item: &str) {
    if !item.is_empty() && !list.iter().any(|existing| existing == item) {
        list.push(item.to_owned());
    }
}

fn non_empty(text: &str) -> Option<String> {
    (!text.is_empty()).then(|| text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_names() {
        let cases = [
            ("github", Some(Provider::Github)),
            ("GitHub-Actions", Some(Provider::Github)),
            ("gitlab", Some(Provider::Gitlab)),
            (" jenkins ", Some(Provider::Jenkins)),
            ("azure-pipelines", Some(Provider::AzurePipelines)),
            ("Azure", Some(Provider::AzurePipelines)),
            ("local", Some(Provider::Local)),
            ("circleci", None),
            ("", None),
        ];
        for (name, expected) in cases {
            assert_eq!(provider_from_name(name), expected, "{name:?}");
        }
        for provider in [
            Provider::Github,
            Provider::Gitlab,
            Provider::Jenkins,
            Provider::AzurePipelines,
            Provider::Local,
        ] {
            assert_eq!(provider_from_name(provider.as_str()), Some(provider));
        }
    }

    #[test]
    fn branches_from_refs() {
        let cases = [
            ("refs/heads/main", Some("main")),
            ("refs/heads/feature/login", Some("feature/login")),
            ("main", Some("main")),
            ("feature/login", Some("feature/login")),
            ("refs/tags/v1.0", None),
            ("refs/pull/7/merge", None),
            ("refs/heads/", None),
            ("", None),
        ];
        for (reference, expected) in cases {
            assert_eq!(
                branch_from_ref(reference).as_deref(),
                expected,
                "{reference:?}"
            );
        }
    }

    #[test]
    fn jenkins_git_branches() {
        let cases = [
            ("origin/main", Some("main")),
            ("origin/feature/x", Some("feature/x")),
            ("refs/remotes/origin/main", Some("main")),
            ("main", Some("main")),
            ("refs/heads/main", Some("main")),
        ];
        for (branch, expected) in cases {
            assert_eq!(
                branch_from_jenkins_git(branch).as_deref(),
                expected,
                "{branch:?}"
            );
        }
    }

    #[test]
    fn pull_numbers_from_refs() {
        let cases = [
            ("refs/pull/123/merge", Some(Ok(123))),
            ("refs/pull/9/head", Some(Ok(9))),
            ("refs/pull/abc/merge", Some(Err(()))),
            ("refs/pull/", Some(Err(()))),
            ("refs/heads/main", None),
            ("123", None),
        ];
        for (reference, expected) in cases {
            assert_eq!(pull_number_from_ref(reference), expected, "{reference:?}");
        }
    }

    #[test]
    fn runner_tag_formats() {
        let cases: [(&str, &[&str]); 8] = [
            (r#"["docker", "linux"]"#, &["docker", "linux"]),
            (r#"["docker","linux"]"#, &["docker", "linux"]),
            (r#"[ "gpu" ]"#, &["gpu"]),
            ("[]", &[]),
            ("docker, linux", &["docker", "linux"]),
            ("docker", &["docker"]),
            ("['a', 'b', 'a']", &["a", "b"]),
            (" , ,", &[]),
        ];
        for (value, expected) in cases {
            assert_eq!(runner_tags(value), expected, "{value:?}");
        }
    }

    #[test]
    fn jenkins_node_labels() {
        assert_eq!(
            node_labels("agent-1 linux  docker\tlinux", Some("agent-1")),
            ["linux", "docker"]
        );
        assert_eq!(node_labels("built-in", None), ["built-in"]);
        assert!(node_labels("   ", None).is_empty());
    }

    #[test]
    fn credentials_are_stripped_from_urls() {
        let cases = [
            (
                "https://user:s3cret@git.example.com/org/repo.git",
                "https://git.example.com/org/repo.git",
            ),
            ("https://oauth2:tok@en@host/x", "https://host/x"),
            ("https://host/path@v1", "https://host/path@v1"),
            ("https://host?x=a@b", "https://host?x=a@b"),
            ("git@github.com:org/repo.git", "git@github.com:org/repo.git"),
            (
                "https://ci.example.com/job/1/",
                "https://ci.example.com/job/1/",
            ),
        ];
        for (url, expected) in cases {
            assert_eq!(strip_userinfo(url), expected, "{url:?}");
        }
    }

    #[test]
    fn components_are_percent_encoded() {
        assert_eq!(encode_component("My Project"), "My%20Project");
        assert_eq!(encode_component("a-b_c.d~e"), "a-b_c.d~e");
        assert_eq!(encode_component("ü/?&"), "%C3%BC%2F%3F%26");
    }
}
