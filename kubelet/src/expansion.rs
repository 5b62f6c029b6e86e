//! `$(VAR)` references in a container's command, args and env values, expanded as
//! upstream's `third_party/forked/golang/expansion` does: `$(NAME)` becomes the
//! variable's value when one is known and stays as written otherwise, `$$` is an
//! escaped `$` (so `$$(NAME)` yields a literal `$(NAME)`), and a `$` that starts no
//! reference is kept.

use std::collections::HashMap;

/// Expand every `$(NAME)` in `input` with `mapping` (see the module doc).
pub fn expand(input: &str, mapping: impl Fn(&str) -> String) -> String {
    let mut out = String::with_capacity(input.len());
    let mut rest = input;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let mut chars = after.chars();
        match chars.next() {
            // A trailing `$` is copied as is.
            None => {
                out.push('$');
                rest = after;
            }
            Some('$') => {
                out.push('$');
                rest = &after[1..];
            }
            Some('(') => match after.find(')') {
                Some(close) => {
                    out.push_str(&mapping(&after[1..close]));
                    rest = &after[close + 1..];
                }
                // Unterminated: keep `$(` and go on after it.
                None => {
                    out.push_str("$(");
                    rest = &after[1..];
                }
            },
            Some(c) => {
                out.push('$');
                out.push(c);
                rest = chars.as_str();
            }
        }
    }
    out.push_str(rest);
    out
}

/// Upstream's MappingFuncFor: the first context that defines the name wins; an
/// unknown name expands to its reference unchanged.
pub fn mapping_for<'a>(contexts: &'a [&'a HashMap<String, String>]) -> impl Fn(&str) -> String + 'a {
    move |name: &str| {
        contexts
            .iter()
            .find_map(|c| c.get(name).cloned())
            .unwrap_or_else(|| format!("$({name})"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> HashMap<String, String> {
        [("VAR_A", "A"), ("VAR_B", "B"), ("VAR_C", "C"), ("VAR_REF", "$(VAR_A)"), ("VAR_EMPTY", "")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn exp(input: &str) -> String {
        let v = vars();
        let ctx = [&v];
        expand(input, mapping_for(&ctx))
    }

    // The cases of upstream's expand_test.go.
    #[test]
    fn upstream_cases() {
        let cases = [
            ("$(VAR_A)", "A"),
            ("___$(VAR_B)___", "___B___"),
            ("___$(VAR_C)", "___C"),
            ("$(VAR_A)-$(VAR_A)", "A-A"),
            ("$(VAR_A)-1", "A-1"),
            ("$(VAR_A)_$(VAR_B)_$(VAR_C)", "A_B_C"),
            ("$$(VAR_B)_$(VAR_A)", "$(VAR_B)_A"),
            ("$$(VAR_A)$$(VAR_B)", "$(VAR_A)$(VAR_B)"),
            ("f000-$$VAR_A", "f000-$VAR_A"),
            ("foo\\$(VAR_C)bar", "foo\\Cbar"),
            ("foo\\\\$(VAR_C)bar", "foo\\\\Cbar"),
            ("foo\\\\\\\\$(VAR_A)bar", "foo\\\\\\\\Abar"),
            ("$(VAR_A$(VAR_B))", "$(VAR_A$(VAR_B))"),
            ("$(VAR_A$(VAR_B)", "$(VAR_A$(VAR_B)"),
            ("$(VAR_REF)", "$(VAR_A)"),
            ("%%$(VAR_REF)--$(VAR_REF)%%", "%%$(VAR_A)--$(VAR_A)%%"),
            ("foo$(VAR_EMPTY)bar", "foobar"),
            ("$(VAR_Awhoops!", "$(VAR_Awhoops!"),
            ("f00__(VAR_A)__", "f00__(VAR_A)__"),
            ("$?_boo_$!", "$?_boo_$!"),
            ("$VAR_A", "$VAR_A"),
            ("$(VAR_DNE)", "$(VAR_DNE)"),
            ("$$$$$$(BIG_MONEY)", "$$$(BIG_MONEY)"),
            ("$$$$$$(VAR_A)", "$$$(VAR_A)"),
            ("$$$$$$$(GOOD_ODDS)", "$$$$(GOOD_ODDS)"),
            ("$$$$$$$(VAR_A)", "$$$A"),
            ("--$($($($($--", "--$($($($($--"),
            ("$($($($($--foo$(", "$($($($($--foo$("),
            ("foo0--$($($($(", "foo0--$($($($("),
            ("$(foo$$var)", "$(foo$$var)"),
            ("$(VAR_A)$", "A$"),
            ("$", "$"),
            ("", ""),
            ("$()", "$()"),
            ("héllo $(VAR_A) wörld $é", "héllo A wörld $é"),
        ];
        for (input, want) in cases {
            assert_eq!(exp(input), want, "expanding {input:?}");
        }
    }

    #[test]
    fn first_context_wins() {
        let a: HashMap<String, String> = [("X".to_string(), "from-env".to_string())].into();
        let b: HashMap<String, String> = [("X".to_string(), "from-svc".to_string()), ("Y".to_string(), "svc".to_string())].into();
        let ctx = [&a, &b];
        assert_eq!(expand("$(X) $(Y) $(Z)", mapping_for(&ctx)), "from-env svc $(Z)");
    }
}
