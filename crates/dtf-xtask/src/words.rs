//! Vocabulary for synthetic test names, messages and stack traces.
//!
//! The point is bytes that look like real CI output (long dotted class names, parametrized
//! ids, framework-heavy stack traces), so parser and merge timings mean something.

/// (imperative, third person, gerund)
pub const VERBS: &[(&str, &str, &str)] = &[
    ("round", "rounds", "rounding"),
    ("calculate", "calculates", "calculating"),
    ("reject", "rejects", "rejecting"),
    ("accept", "accepts", "accepting"),
    ("create", "creates", "creating"),
    ("update", "updates", "updating"),
    ("delete", "deletes", "deleting"),
    ("return", "returns", "returning"),
    ("retry", "retries", "retrying"),
    ("validate", "validates", "validating"),
    ("parse", "parses", "parsing"),
    ("serialize", "serializes", "serializing"),
    ("cache", "caches", "caching"),
    ("expire", "expires", "expiring"),
    ("refund", "refunds", "refunding"),
    ("apply", "applies", "applying"),
    ("ignore", "ignores", "ignoring"),
    ("emit", "emits", "emitting"),
    ("merge", "merges", "merging"),
    ("sort", "sorts", "sorting"),
    ("export", "exports", "exporting"),
    ("lock", "locks", "locking"),
    ("notify", "notifies", "notifying"),
    ("convert", "converts", "converting"),
    ("split", "splits", "splitting"),
];

pub const NOUNS: &[&str] = &[
    "Invoice",
    "Payment",
    "Refund",
    "Customer",
    "Account",
    "Session",
    "Token",
    "Order",
    "Cart",
    "Discount",
    "Coupon",
    "Shipment",
    "Warehouse",
    "Product",
    "Price",
    "TaxRate",
    "Report",
    "Webhook",
    "Subscription",
    "Ledger",
    "Currency",
    "Address",
    "Email",
    "Permission",
    "AuditLog",
];

pub const ROLES: &[&str] = &[
    "Service",
    "Repository",
    "Controller",
    "Validator",
    "Mapper",
    "Client",
    "Handler",
    "Parser",
    "Serializer",
    "Calculator",
    "Scheduler",
    "Cache",
    "Factory",
    "Resolver",
    "Importer",
];

pub const DOMAINS: &[&str] = &[
    "billing",
    "payments",
    "auth",
    "inventory",
    "search",
    "shipping",
    "catalog",
    "notifications",
    "reporting",
    "users",
    "orders",
    "pricing",
    "tax",
    "ledger",
    "sync",
    "scheduler",
    "exports",
    "webhooks",
];

pub const QUALIFIERS: &[&str] = &[
    "with discount",
    "when empty",
    "for negative amount",
    "with null name",
    "after timeout",
    "on duplicate id",
    "in eur",
    "with multiple currencies",
    "when cache is cold",
    "for unicode input",
    "with trailing whitespace",
    "when token expired",
    "on concurrent update",
    "without permission",
    "for large batch",
    "when disabled",
    "with default settings",
    "across time zones",
    "at midnight",
    "for zero quantity",
];

pub const JAVA_ORGS: &[&str] = &["com.acme", "io.globex", "org.initech", "com.hooli"];
pub const JAVA_SUBPACKAGES: &[&str] = &["internal", "api", "persistence", "web", "v2", "domain"];
pub const JAVA_PARAM_TYPES: &[&str] = &[
    "String",
    "BigDecimal",
    "int",
    "Currency",
    "boolean",
    "String, int",
    "BigDecimal, String",
];
pub const JAVA_NESTED: &[&str] = &[
    "WhenDiscounted",
    "WhenEmpty",
    "GivenExpiredToken",
    "Validation",
    "EdgeCases",
];

pub const PY_PROJECTS: &[&str] = &["acme", "hooli", "pied_piper", "globex"];
pub const PY_CLASS_SUFFIXES: &[&str] = &[
    "",
    "Rounding",
    "Validation",
    "EdgeCases",
    "Api",
    "Migrations",
];

pub const JS_REPOS: &[&str] = &["shop", "dashboard", "checkout-web", "api-gateway"];
pub const JS_EXTENSIONS: &[&str] = &[".test.ts", ".spec.ts", ".test.js", ".test.tsx"];
pub const JS_METHODS: &[&str] = &[
    "roundTotal",
    "applyDiscount",
    "fetchAll",
    "validate",
    "toJSON",
    "render",
    "subscribe",
    "retry",
];

pub const CURRENCIES: &[&str] = &["eur", "usd", "gbp", "jpy", "chf", "sek"];
pub const PLACES: &[&str] = &["Zoë", "Łódź", "São Paulo", "東京", "Zürich", "Ærøskøbing"];

pub const SKIP_MESSAGES: &[&str] = &[
    "requires docker",
    "no postgres available",
    "Disabled until JIRA-4821 is fixed",
    "Assumption failed: assumption is not true",
    "flaky on CI, see #1187",
    "only runs on linux",
    "skipped: feature flag 'new_checkout' is off",
    "needs network access",
];

pub const JAVA_FRAMEWORK_FRAMES: &[&str] = &[
    "java.base/jdk.internal.reflect.DirectMethodHandleAccessor.invoke(DirectMethodHandleAccessor.java:103)",
    "java.base/java.lang.reflect.Method.invoke(Method.java:580)",
    "org.junit.platform.commons.util.ReflectionUtils.invokeMethod(ReflectionUtils.java:728)",
    "org.junit.jupiter.engine.execution.MethodInvocation.proceed(MethodInvocation.java:60)",
    "org.junit.jupiter.engine.execution.InvocationInterceptorChain$ValidatingInvocation.proceed(InvocationInterceptorChain.java:131)",
    "org.junit.jupiter.engine.extension.TimeoutExtension.intercept(TimeoutExtension.java:156)",
    "org.junit.jupiter.engine.extension.TimeoutExtension.interceptTestableMethod(TimeoutExtension.java:147)",
    "org.junit.jupiter.engine.extension.TimeoutExtension.interceptTestMethod(TimeoutExtension.java:86)",
    "org.junit.jupiter.engine.execution.InterceptingExecutableInvoker$ReflectiveInterceptorCall.lambda$ofVoidMethod$0(InterceptingExecutableInvoker.java:103)",
    "org.junit.jupiter.engine.execution.InterceptingExecutableInvoker.lambda$invoke$0(InterceptingExecutableInvoker.java:93)",
    "org.junit.jupiter.engine.execution.InvocationInterceptorChain$InterceptedInvocation.proceed(InvocationInterceptorChain.java:106)",
    "org.junit.jupiter.engine.execution.InvocationInterceptorChain.proceed(InvocationInterceptorChain.java:64)",
    "org.junit.jupiter.engine.execution.InvocationInterceptorChain.chainAndInvoke(InvocationInterceptorChain.java:45)",
    "org.junit.jupiter.engine.execution.InvocationInterceptorChain.invoke(InvocationInterceptorChain.java:37)",
    "org.junit.jupiter.engine.execution.InterceptingExecutableInvoker.invoke(InterceptingExecutableInvoker.java:92)",
    "org.junit.jupiter.engine.descriptor.TestMethodTestDescriptor.lambda$invokeTestMethod$7(TestMethodTestDescriptor.java:217)",
    "org.junit.platform.engine.support.hierarchical.ThrowableCollector.execute(ThrowableCollector.java:73)",
    "org.junit.jupiter.engine.descriptor.TestMethodTestDescriptor.invokeTestMethod(TestMethodTestDescriptor.java:213)",
    "org.junit.jupiter.engine.descriptor.TestMethodTestDescriptor.execute(TestMethodTestDescriptor.java:138)",
    "org.junit.platform.engine.support.hierarchical.NodeTestTask.lambda$executeRecursively$6(NodeTestTask.java:151)",
    "org.junit.platform.engine.support.hierarchical.NodeTestTask.lambda$executeRecursively$8(NodeTestTask.java:141)",
    "org.junit.platform.engine.support.hierarchical.Node.around(Node.java:137)",
    "org.junit.platform.engine.support.hierarchical.NodeTestTask.executeRecursively(NodeTestTask.java:139)",
    "org.junit.platform.engine.support.hierarchical.NodeTestTask.execute(NodeTestTask.java:95)",
    "org.apache.maven.surefire.junitplatform.JUnitPlatformProvider.invokeAllTests(JUnitPlatformProvider.java:150)",
];

pub const PY_LIBRARY_FRAMES: &[(&str, &str, &str)] = &[
    (
        ".venv/lib/python3.12/site-packages/sqlalchemy/orm/session.py:2351",
        "execute",
        "return self._execute_internal(",
    ),
    (
        ".venv/lib/python3.12/site-packages/sqlalchemy/engine/base.py:1418",
        "execute",
        "return meth(",
    ),
    (
        ".venv/lib/python3.12/site-packages/requests/sessions.py:589",
        "request",
        "resp = self.send(prep, **send_kwargs)",
    ),
    (
        ".venv/lib/python3.12/site-packages/requests/adapters.py:519",
        "send",
        "raise ConnectionError(e, request=request)",
    ),
    (
        ".venv/lib/python3.12/site-packages/pydantic/main.py:212",
        "__init__",
        "validated_self = self.__pydantic_validator__.validate_python(data, self_instance=self)",
    ),
    (
        ".venv/lib/python3.12/site-packages/_pytest/python.py:159",
        "pytest_pyfunc_call",
        "result = testfunction(**testargs)",
    ),
    (
        ".venv/lib/python3.12/site-packages/pluggy/_callers.py:103",
        "_multicall",
        "res = hook_impl.function(*args)",
    ),
    (
        "/usr/lib/python3.12/decimal.py:411",
        "quantize",
        "return self._round(exp, rounding)",
    ),
    (
        "/usr/lib/python3.12/json/encoder.py:258",
        "iterencode",
        "return _iterencode(o, 0)",
    ),
];

pub const JS_FRAMEWORK_FRAMES: &[&str] = &[
    "Promise.then.completed (node_modules/jest-circus/build/utils.js:298:28)",
    "new Promise (<anonymous>)",
    "callAsyncCircusFn (node_modules/jest-circus/build/utils.js:231:10)",
    "_callCircusTest (node_modules/jest-circus/build/run.js:316:40)",
    "processTicksAndRejections (node:internal/process/task_queues:95:5)",
    "_runTest (node_modules/jest-circus/build/run.js:252:3)",
    "_runTestsForDescribeBlock (node_modules/jest-circus/build/run.js:126:9)",
    "_runTestsForDescribeBlock (node_modules/jest-circus/build/run.js:121:9)",
    "run (node_modules/jest-circus/build/run.js:71:3)",
    "runAndTransformResultsToJestFormat (node_modules/jest-circus/build/legacy-code-todo-rewrite/jestAdapterInit.js:122:21)",
    "jestAdapter (node_modules/jest-circus/build/legacy-code-todo-rewrite/jestAdapter.js:79:19)",
    "runTestInternal (node_modules/jest-runner/build/runTest.js:367:16)",
    "runTest (node_modules/jest-runner/build/runTest.js:444:34)",
    "Object.worker (node_modules/jest-runner/build/testWorker.js:106:12)",
];

/// `FooBar` -> `foo_bar`.
pub fn snake(pascal: &str) -> String {
    let mut out = String::with_capacity(pascal.len() + 4);
    for (i, c) in pascal.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// `FooBar` -> `fooBar`.
pub fn lower_first(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_ascii_lowercase().to_string() + chars.as_str(),
        None => String::new(),
    }
}

/// `with null name` -> `WithNullName`.
pub fn pascal_words(phrase: &str) -> String {
    let mut out = String::with_capacity(phrase.len());
    for word in phrase.split(' ') {
        let mut chars = word.chars();
        if let Some(c) = chars.next() {
            out.push(c.to_ascii_uppercase());
            out.push_str(chars.as_str());
        }
    }
    out
}

/// `TaxRate` -> `tax rate`.
pub fn spaced_lower(pascal: &str) -> String {
    snake(pascal).replace('_', " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    type Case = (fn(&str) -> String, &'static str, &'static str);

    #[test]
    fn case_conversions() {
        let cases: &[Case] = &[
            (snake, "TaxRate", "tax_rate"),
            (snake, "Invoice", "invoice"),
            (lower_first, "TaxRate", "taxRate"),
            (lower_first, "", ""),
            (pascal_words, "with null name", "WithNullName"),
            (spaced_lower, "AuditLog", "audit log"),
        ];
        for (f, input, expected) in cases {
            assert_eq!(f(input), *expected, "{input}");
        }
    }
}
