//! The Sigma condition language: `and`, `or`, `not`, parentheses,
//! `1 of <pattern>`, `all of <pattern>`, `1 of them`, `all of them`, where a
//! pattern may end in `*`. Aggregations (`| count() …`) are rejected.

/// A compiled condition over search identifiers (by index).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Cond {
    Sel(usize),
    Not(Box<Cond>),
    And(Vec<Cond>),
    Or(Vec<Cond>),
}

impl Cond {
    /// Evaluates with `sel(i)` giving the value of search identifier `i`.
    pub fn eval(&self, sel: &mut impl FnMut(usize) -> bool) -> bool {
        match self {
            Cond::Sel(i) => sel(*i),
            Cond::Not(c) => !c.eval(sel),
            Cond::And(cs) => cs.iter().all(|c| c.eval(sel)),
            Cond::Or(cs) => cs.iter().any(|c| c.eval(sel)),
        }
    }
}

const MAX_DEPTH: usize = 64;
const MAX_TOKENS: usize = 4096;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    LParen,
    RParen,
    Word(String),
}

fn tokenize(s: &str) -> Result<Vec<Tok>, String> {
    if s.contains('|') {
        return Err("aggregation expressions (`|`) are not supported".into());
    }
    let mut out = Vec::new();
    let mut word = String::new();
    for c in s.chars() {
        match c {
            '(' | ')' => {
                if !word.is_empty() {
                    out.push(Tok::Word(std::mem::take(&mut word)));
                }
                out.push(if c == '(' { Tok::LParen } else { Tok::RParen });
            }
            c if c.is_whitespace() => {
                if !word.is_empty() {
                    out.push(Tok::Word(std::mem::take(&mut word)));
                }
            }
            c if c.is_alphanumeric() || matches!(c, '_' | '*' | '-' | '.') => word.push(c),
            c => return Err(format!("unexpected character `{c}`")),
        }
        if out.len() > MAX_TOKENS {
            return Err("condition is too long".into());
        }
    }
    if !word.is_empty() {
        out.push(Tok::Word(word));
    }
    Ok(out)
}

struct P<'a> {
    toks: Vec<Tok>,
    pos: usize,
    names: &'a [String],
}

fn glob(pattern: &str, name: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) if !prefix.contains('*') => name.starts_with(prefix),
        _ if pattern.contains('*') => {
            // General wildcard: split on `*` and match pieces in order.
            let parts: Vec<&str> = pattern.split('*').collect();
            let mut rest = name;
            for (i, part) in parts.iter().enumerate() {
                if i == 0 {
                    match rest.strip_prefix(part) {
                        Some(r) => rest = r,
                        None => return false,
                    }
                } else if i == parts.len() - 1 {
                    return rest.ends_with(part);
                } else {
                    match rest.find(part) {
                        Some(p) => rest = rest.get(p + part.len()..).unwrap_or(""),
                        None => return false,
                    }
                }
            }
            true
        }
        _ => pattern == name,
    }
}

impl P<'_> {
    fn peek_word(&self) -> Option<&str> {
        match self.toks.get(self.pos) {
            Some(Tok::Word(w)) => Some(w),
            _ => None,
        }
    }

    fn keyword(&mut self, kw: &str) -> bool {
        if self.peek_word().is_some_and(|w| w.eq_ignore_ascii_case(kw)) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn or(&mut self, depth: usize) -> Result<Cond, String> {
        let mut items = vec![self.and(depth)?];
        while self.keyword("or") {
            items.push(self.and(depth)?);
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            Cond::Or(items)
        })
    }

    fn and(&mut self, depth: usize) -> Result<Cond, String> {
        let mut items = vec![self.not(depth)?];
        while self.keyword("and") {
            items.push(self.not(depth)?);
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            Cond::And(items)
        })
    }

    fn not(&mut self, depth: usize) -> Result<Cond, String> {
        if depth > MAX_DEPTH {
            return Err("condition nests deeper than 64".into());
        }
        if self.keyword("not") {
            return Ok(Cond::Not(Box::new(self.not(depth + 1)?)));
        }
        self.primary(depth)
    }

    fn primary(&mut self, depth: usize) -> Result<Cond, String> {
        match self.toks.get(self.pos).cloned() {
            Some(Tok::LParen) => {
                self.pos += 1;
                let c = self.or(depth + 1)?;
                if self.toks.get(self.pos) != Some(&Tok::RParen) {
                    return Err("missing `)`".into());
                }
                self.pos += 1;
                Ok(c)
            }
            Some(Tok::Word(w)) => {
                self.pos += 1;
                let quant = if w == "1" || w.eq_ignore_ascii_case("any") {
                    Some(false)
                } else if w.eq_ignore_ascii_case("all") {
                    Some(true)
                } else {
                    None
                };
                if let Some(all) = quant {
                    if !self.keyword("of") {
                        return Err(format!("expected `of` after `{w}`"));
                    }
                    let target = self
                        .peek_word()
                        .map(str::to_owned)
                        .ok_or_else(|| "expected a pattern or `them` after `of`".to_string())?;
                    self.pos += 1;
                    let sels: Vec<Cond> = self
                        .names
                        .iter()
                        .enumerate()
                        .filter(|(_, n)| {
                            if target.eq_ignore_ascii_case("them") {
                                !n.starts_with('_')
                            } else {
                                glob(&target, n)
                            }
                        })
                        .map(|(i, _)| Cond::Sel(i))
                        .collect();
                    if sels.is_empty() {
                        return Err(format!("`{target}` matches no search identifier"));
                    }
                    return Ok(if all { Cond::And(sels) } else { Cond::Or(sels) });
                }
                if ["and", "or", "not", "of"]
                    .iter()
                    .any(|k| w.eq_ignore_ascii_case(k))
                {
                    return Err(format!("unexpected `{w}`"));
                }
                self.names
                    .iter()
                    .position(|n| *n == w)
                    .map(Cond::Sel)
                    .ok_or_else(|| format!("unknown search identifier `{w}`"))
            }
            Some(Tok::RParen) => Err("unexpected `)`".into()),
            None => Err("condition ends early".into()),
        }
    }
}

/// Compiles a condition over the named search identifiers.
pub(crate) fn compile(condition: &str, names: &[String]) -> Result<Cond, String> {
    let toks = tokenize(condition)?;
    let mut p = P {
        toks,
        pos: 0,
        names,
    };
    let c = p.or(0)?;
    if p.pos != p.toks.len() {
        return Err(format!("unexpected token {} in condition", p.pos + 1));
    }
    Ok(c)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn names() -> Vec<String> {
        ["selection_img", "selection_cli", "filter", "_private"]
            .iter()
            .map(|s| (*s).to_owned())
            .collect()
    }

    fn eval(cond: &str, vals: [bool; 4]) -> bool {
        compile(cond, &names()).unwrap().eval(&mut |i| vals[i])
    }

    #[test]
    fn grammar() {
        assert!(eval(
            "all of selection_* and not filter",
            [true, true, false, false]
        ));
        assert!(!eval(
            "all of selection_* and not filter",
            [true, true, true, false]
        ));
        assert!(eval(
            "1 of selection* or filter",
            [false, true, false, false]
        ));
        assert!(eval("all of them", [true, true, true, false]));
        assert!(!eval("all of them", [true, true, false, true]));
        assert!(eval("1 of them", [false, false, true, false]));
        assert!(eval(
            "not (selection_img or filter)",
            [false, true, false, false]
        ));
        assert!(eval(
            "selection_img and (filter or not _private)",
            [true, false, false, false]
        ));
        assert!(compile("selection | count() > 5", &names()).is_err());
        assert!(compile("selection_img and", &names()).is_err());
        assert!(compile("unknown", &names()).is_err());
        assert!(compile("1 of nothing*", &names()).is_err());
        assert!(compile(&"(".repeat(200), &names()).is_err());
    }
}
