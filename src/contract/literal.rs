//! A migration module that is nothing but literals, read in the core without running it.
//!
//! Most migrations are `export const up = '...'` or a template literal without `${}`, perhaps with
//! a literal `down` and `config` (what `create` writes, and what `import` writes). Importing such
//! a module has no effect beyond producing those values, so reading its text gives exactly what
//! an import would, and the module never has to cross to Node: no JSON of its text out, no
//! parse in V8, no JSON of its SQL back. At 10,000 migrations that is most of `up`'s memory.
//!
//! The reader is deliberately narrow: anything it does not follow exactly (a function, an
//! expression, an import, a number with a sign or a fraction, an escape that makes a lone
//! surrogate, Unicode whitespace, a syntax error, an export other than `up`/`down`/`config`, a
//! module without `up`) declines with `None`, and Node imports the module as usual, which also
//! produces the real error messages. Declining is never wrong; reading differently from Node
//! would be, which is what `__tests__/literal-module.test.mjs` checks against real imports.

use serde_json::{Map, Number, Value};

use super::modules::Rendered;

/// The largest integer a JS number holds exactly; larger ones are left to Node.
const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// Arrays and objects nested deeper than this are left to Node: the reader recurses, and a hostile
/// file of a million `[` must not overflow the core's stack (V8 reports its own limit as an error).
const MAX_DEPTH: usize = 32;

/// What importing `source` would render, when it is only literal `export const` declarations of
/// `up` (a string or an array of strings), `down` (the same) and `config` (an object of literals),
/// with comments; otherwise `None`.
pub fn read(file: &str, source: &str) -> Option<Rendered> {
    let mut r = Reader {
        s: source,
        i: 0,
        depth: 0,
    };
    let mut up = None;
    let mut down = None;
    let mut config = None;
    // a BOM or a hashbang line: left to Node's own loader
    if source.starts_with('\u{feff}') || source.starts_with("#!") {
        return None;
    }
    r.trivia()?;
    while !r.done() {
        // `export` and `const` are whole words: `exportconst` reads as one
        if r.word()? != "export" {
            return None;
        }
        r.trivia()?;
        if r.word()? != "const" {
            return None;
        }
        loop {
            r.trivia()?;
            let name = r.word()?;
            r.trivia()?;
            r.eat('=')?;
            r.trivia()?;
            let slot = match name {
                "up" => &mut up,
                "down" => &mut down,
                "config" => &mut config,
                _ => return None,
            };
            if slot.is_some() {
                return None; // a duplicate export is a syntax error: Node says so
            }
            *slot = Some(if name == "config" {
                r.value(true)?
            } else {
                r.sql()?
            });
            let crossed = r.trivia()?;
            match r.peek() {
                Some(',') => r.i += 1,
                Some(';') => {
                    r.i += 1;
                    r.trivia()?;
                    break;
                }
                // a new statement after a line break (automatic semicolon insertion), or the end
                None => break,
                Some(_) if crossed && r.at_word("export") => break,
                Some(_) => return None,
            }
        }
    }
    let sql = |v: Value| -> Option<Vec<String>> {
        match v {
            Value::String(s) => Some(vec![s]),
            Value::Array(a) => a
                .into_iter()
                .map(|s| match s {
                    Value::String(s) => Some(s),
                    _ => None,
                })
                .collect(),
            _ => None,
        }
    };
    Some(Rendered {
        file: file.to_string(),
        failure: None,
        up: Some(sql(up?)?),
        down: match down {
            Some(d) => Some(sql(d)?),
            None => None,
        },
        // Node's `config: null` reaches the core as no config (JSON null is `None`): the same here
        config: config.filter(|c| !c.is_null()),
    })
}

/// `items` parted into the modules read as literals and those left for Node to import; `text`
/// gives an item's file name and the text the core hashed (`None`: Node reads the file).
pub fn part<T>(
    items: impl IntoIterator<Item = T>,
    text: impl Fn(&T) -> (&str, Option<&str>),
) -> (Vec<Rendered>, Vec<T>) {
    let mut read_here = Vec::new();
    let mut for_node = Vec::new();
    for item in items {
        let (file, source) = text(&item);
        match source.and_then(|s| read(file, s)) {
            Some(r) => read_here.push(r),
            None => for_node.push(item),
        }
    }
    (read_here, for_node)
}

struct Reader<'a> {
    s: &'a str,
    i: usize,
    /// How many arrays and objects the cursor is inside.
    depth: usize,
}

impl<'a> Reader<'a> {
    fn rest(&self) -> &'a str {
        &self.s[self.i..]
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn done(&self) -> bool {
        self.i >= self.s.len()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.i += c.len_utf8();
        Some(c)
    }

    fn eat(&mut self, c: char) -> Option<()> {
        (self.peek() == Some(c)).then(|| self.i += c.len_utf8())
    }

    /// Skips whitespace and comments; `Some(true)` when a line terminator was among them, `None`
    /// for an unterminated comment or whitespace outside ASCII (left to Node).
    fn trivia(&mut self) -> Option<bool> {
        let mut crossed = false;
        loop {
            let rest = self.rest();
            if let Some(body) = rest.strip_prefix("//") {
                let end = body.find(is_line_terminator).unwrap_or(body.len());
                self.i += 2 + end;
            } else if let Some(body) = rest.strip_prefix("/*") {
                let end = body.find("*/")?;
                crossed |= body[..end].contains(is_line_terminator);
                self.i += 2 + end + 2;
            } else {
                match self.peek() {
                    Some(c) if is_line_terminator(c) => crossed = true,
                    Some(' ' | '\t' | '\u{b}' | '\u{c}') => {}
                    Some(c) if c.is_whitespace() || c == '\u{feff}' => return None,
                    _ => return Some(crossed),
                }
                self.bump();
            }
        }
    }

    /// An ASCII identifier name; `None` when it runs into a character that could continue one in
    /// JS (Unicode letters, `\u` escapes), which this reader does not follow.
    fn word(&mut self) -> Option<&'a str> {
        let start = self.i;
        let len = self
            .rest()
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '$'))
            .unwrap_or(self.rest().len());
        self.i += len;
        let s: &'a str = self.s;
        let w = &s[start..self.i];
        let first_ok = w
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '$');
        let next_ok = self.peek().is_none_or(|c| c.is_ascii() && c != '\\');
        (first_ok && next_ok).then_some(w)
    }

    fn at_word(&self, w: &str) -> bool {
        self.rest()
            .strip_prefix(w)
            .is_some_and(|after| after.chars().next().is_none_or(|c| !is_ident(c)))
    }

    /// `up` or `down`: a string, or an array of strings.
    fn sql(&mut self) -> Option<Value> {
        self.value(false)
    }

    /// A literal: a string, a template without substitutions, a non-negative integer, `true`,
    /// `false`, `null`, an array of those, or (where `objects`) an object of them.
    fn value(&mut self, objects: bool) -> Option<Value> {
        if matches!(self.peek()?, '[' | '{') {
            if self.depth >= MAX_DEPTH {
                return None;
            }
            self.depth += 1;
            let v = self.scalar_or_nested(objects);
            self.depth -= 1;
            return v;
        }
        self.scalar_or_nested(objects)
    }

    fn scalar_or_nested(&mut self, objects: bool) -> Option<Value> {
        match self.peek()? {
            q @ ('\'' | '"') => {
                self.i += 1;
                self.string(q).map(Value::String)
            }
            '`' => {
                self.i += 1;
                self.template().map(Value::String)
            }
            '[' => {
                self.i += 1;
                let mut out = Vec::new();
                loop {
                    self.trivia()?;
                    if self.eat(']').is_some() {
                        return Some(Value::Array(out));
                    }
                    out.push(self.value(false)?);
                    self.trivia()?;
                    if self.eat(',').is_none() {
                        self.eat(']')?;
                        return Some(Value::Array(out));
                    }
                }
            }
            '{' if objects => {
                self.i += 1;
                let mut out = Map::new();
                loop {
                    self.trivia()?;
                    if self.eat('}').is_some() {
                        return Some(Value::Object(out));
                    }
                    let key = match self.peek()? {
                        q @ ('\'' | '"') => {
                            self.i += 1;
                            self.string(q)?
                        }
                        _ => self.word()?.to_string(),
                    };
                    // `__proto__: x` sets the prototype, not a key; a repeated key is the last one
                    if key == "__proto__" || out.contains_key(&key) {
                        return None;
                    }
                    self.trivia()?;
                    self.eat(':')?;
                    self.trivia()?;
                    let v = self.value(true)?;
                    out.insert(key, v);
                    self.trivia()?;
                    if self.eat(',').is_none() {
                        self.eat('}')?;
                        return Some(Value::Object(out));
                    }
                }
            }
            '0'..='9' => {
                let len = self
                    .rest()
                    .find(|c: char| !c.is_ascii_digit())
                    .unwrap_or(self.rest().len());
                let digits = &self.rest()[..len];
                self.i += len;
                // a fraction, an exponent, a separator, a bigint, hex or octal: left to Node
                if self.peek().is_some_and(|c| is_ident(c) || c == '.')
                    || (digits.len() > 1 && digits.starts_with('0'))
                {
                    return None;
                }
                let n: u64 = digits.parse().ok().filter(|n| *n <= MAX_SAFE_INTEGER)?;
                Some(Value::Number(Number::from(n)))
            }
            _ => match self.word()? {
                "true" => Some(Value::Bool(true)),
                "false" => Some(Value::Bool(false)),
                "null" => Some(Value::Null),
                _ => None,
            },
        }
    }

    /// The rest of a `'` or `"` string, its escapes cooked as JS cooks them.
    fn string(&mut self, quote: char) -> Option<String> {
        let mut out = String::new();
        loop {
            match self.bump()? {
                c if c == quote => return Some(out),
                '\\' => self.escape(&mut out)?,
                '\n' | '\r' => return None, // unterminated: Node's syntax error
                c => out.push(c),
            }
        }
    }

    /// The rest of a template literal without substitutions: escapes cooked, and its line
    /// breaks as JS reads them (CR LF and CR become LF).
    fn template(&mut self) -> Option<String> {
        let mut out = String::new();
        loop {
            match self.bump()? {
                '`' => return Some(out),
                '$' if self.peek() == Some('{') => return None,
                '\\' => self.escape(&mut out)?,
                '\r' => {
                    self.eat('\n');
                    out.push('\n');
                }
                c => out.push(c),
            }
        }
    }

    /// One escape after `\`, in strict mode (a module): octal escapes, `\8`, `\9` and any escape
    /// of a surrogate are left to Node.
    fn escape(&mut self, out: &mut String) -> Option<()> {
        let c = self.bump()?;
        let cooked = match c {
            // a line continuation
            '\n' | '\u{2028}' | '\u{2029}' => return Some(()),
            '\r' => {
                self.eat('\n');
                return Some(());
            }
            'b' => '\u{8}',
            'f' => '\u{c}',
            'n' => '\n',
            'r' => '\r',
            't' => '\t',
            'v' => '\u{b}',
            '0' if !self.peek().is_some_and(|c| c.is_ascii_digit()) => '\0',
            '0'..='9' => return None,
            'x' => char::from_u32(self.hex(2)?)?,
            'u' => {
                let code = if self.eat('{').is_some() {
                    let len = self.rest().find('}')?;
                    let digits = &self.rest()[..len];
                    let code = (!digits.is_empty() && digits.len() <= 8)
                        .then(|| u32::from_str_radix(digits, 16).ok())
                        .flatten()
                        .filter(|_| digits.chars().all(|c| c.is_ascii_hexdigit()))?;
                    self.i += len + 1;
                    code
                } else {
                    self.hex(4)?
                };
                // `None` for a surrogate (a pair spelt as two escapes is left to Node) or > 10FFFF
                char::from_u32(code)?
            }
            other => other,
        };
        out.push(cooked);
        Some(())
    }

    fn hex(&mut self, n: usize) -> Option<u32> {
        let digits = self.rest().get(..n)?;
        if !digits.chars().all(|c| c.is_ascii_hexdigit()) {
            return None;
        }
        self.i += n;
        u32::from_str_radix(digits, 16).ok()
    }
}

fn is_line_terminator(c: char) -> bool {
    matches!(c, '\n' | '\r' | '\u{2028}' | '\u{2029}')
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '$' || c == '\\' || !c.is_ascii()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn up(source: &str) -> Option<Vec<String>> {
        read("f.mjs", source).and_then(|r| r.up)
    }

    #[test]
    fn reads_what_create_and_import_write() {
        let r = read(
            "f.mjs",
            "/**\n * The SQL.\n * @type {import('godwit').MigrationSql}\n */\nexport const up = `\n  CREATE TABLE t ();\n`;\n\n// export const down = `DROP TABLE t;`;\n",
        )
        .unwrap();
        assert_eq!(r.up, Some(vec!["\n  CREATE TABLE t ();\n".to_string()]));
        assert_eq!(r.down, None);
        assert_eq!(r.config, None);
        assert_eq!(r.file, "f.mjs");
    }

    #[test]
    fn reads_arrays_down_and_config_in_one_declaration_or_several() {
        let r = read(
            "f.mjs",
            "// c\nexport const up = `SELECT\\t1`, down = ['a', \"b\",]\n/* c\n */ export const config = { transaction: false, 'lockTimeout': '5s', ignore: { x: 'y' }, n: 0, m: [1, null, true] };",
        )
        .unwrap();
        assert_eq!(r.up, Some(vec!["SELECT\t1".to_string()]));
        assert_eq!(r.down, Some(vec!["a".to_string(), "b".to_string()]));
        assert_eq!(
            r.config,
            Some(
                json!({"transaction": false, "lockTimeout": "5s", "ignore": {"x": "y"}, "n": 0, "m": [1, null, true]})
            )
        );
    }

    #[test]
    fn cooks_escapes_and_line_breaks_as_js_does() {
        assert_eq!(
            up(r#"export const up = 'a\'b\"c\\d\x41\u0042\u{1F600}\0e\q\
f'"#),
            Some(vec!["a'b\"c\\dAB\u{1F600}\0eqf".to_string()])
        );
        assert_eq!(
            up("export const up = `a\r\nb\rc\\`\\${d}$e\\\r\nf`"),
            Some(vec!["a\nb\nc`${d}$ef".to_string()])
        );
        assert_eq!(
            up("export const up = 'a\u{2028}b'"),
            Some(vec!["a\u{2028}b".to_string()])
        );
    }

    #[test]
    fn declines_everything_it_does_not_follow_exactly() {
        for src in [
            "export const up = `CREATE TABLE t_${Date.now()} ()`",
            "export const up = () => \"SELECT 1\"",
            "export const up = process.env.X ? 'a' : 'b'",
            "import x from './x.mjs'\nexport const up = 'SELECT 1'",
            "export let up = 'SELECT 1'",
            "export default 'SELECT 1'",
            "const up = 'SELECT 1'\nexport { up }",
            "export const up = 'SELECT 1'\nconsole.log('side effect')",
            "export const up = 'SELECT 1' + 'x'",
            "export const up = 'SELECT 1'\n+ 'x'",
            "export const up = 'SELECT 1' export const down = 'x'",
            "export const up = 'SELECT 1'\nexport const config = { lockTimeout: -1 }",
            "export const up = 'SELECT 1'\nexport const config = { lockTimeout: 1.5 }",
            "export const up = 'SELECT 1'\nexport const config = { lockTimeout: 1e3 }",
            "export const up = 'SELECT 1'\nexport const config = { lockTimeout: 0x10 }",
            "export const up = 'SELECT 1'\nexport const config = { lockTimeout: 010 }",
            "export const up = 'SELECT 1'\nexport const config = { lockTimeout: 1_000 }",
            "export const up = 'SELECT 1'\nexport const config = { lockTimeout: 9007199254740992 }",
            "export const up = 'SELECT 1'\nexport const config = { [k]: true }",
            "export const up = 'SELECT 1'\nexport const config = { __proto__: { transaction: false } }",
            "export const up = 'SELECT 1'\nexport const config = { a: 1, a: 2 }",
            "export const up = 'SELECT 1'\nexport const config = { transaction }",
            "export const up = 'SELECT 1'\nexport const config = [{ a: 1 }]",
            "export const up = 'SELECT 1'\nexport const donw = 'DROP TABLE t'",
            "export const up = ['SELECT 1', ...more]",
            "export const up = ['SELECT 1',, 'x']",
            "export const up = [['SELECT 1']]",
            "export const up = 1",
            "export const up = null",
            "export const down = 'x'",
            "",
            "// nothing",
            "export const up = 'SELECT 1'\nexport const up = 'SELECT 2'",
            "export const up = 'unterminated",
            "export const up = 'line\nbreak'",
            "export const up = 'x' /* unterminated",
            "\u{feff}export const up = 'SELECT 1'",
            "#!/usr/bin/env node\nexport const up = 'SELECT 1'",
            "export const up = /SELECT/",
            "export const up = 1n",
            "export const up = String.raw`SELECT 1`",
            "export const up = 'SELECT 1';;",
            "exportconst up = 'x'",
            "export constup = 'x'",
            "export const upé = 'x'",
            "export const \\u0075p = 'x'",
            "export\u{a0}const up = 'x'",
            "export const up = '\\1'",
            "export const up = '\\08'",
            "export const up = '\\8'",
            "export const up = '\\x4'",
            "export const up = '\\uD83D\\uDE00'",
            "export const up = '\\u{110000}'",
            "export const up = '\\u{}'",
            "export const up = `\\01`",
        ] {
            assert!(read("f.mjs", src).is_none(), "{src:?}");
        }
    }

    #[test]
    fn a_null_config_is_no_config_as_when_node_renders_it() {
        let r = read("f.mjs", "export const up = 'x'\nexport const config = null").unwrap();
        assert_eq!(r.config, None);
        let from_node: Rendered =
            serde_json::from_str(r#"{"file":"f.mjs","up":["x"],"config":null}"#).unwrap();
        assert_eq!(from_node.config, None);
    }

    #[test]
    fn deep_nesting_is_left_to_node_without_overflowing_the_stack() {
        let deep = |n: usize, open: &str, close: &str| {
            format!(
                "export const up = 'x'\nexport const config = {}1{}",
                open.repeat(n),
                close.repeat(n)
            )
        };
        assert!(read("f.mjs", &deep(1_000_000, "[", "]")).is_none());
        assert!(read("f.mjs", &deep(1_000_000, "{a:", "}")).is_none());
        assert!(read("f.mjs", &deep(MAX_DEPTH + 1, "{a:", "}")).is_none());
        let ok = read("f.mjs", &deep(MAX_DEPTH, "{a:", "}")).unwrap();
        assert!(ok.config.is_some());
    }

    #[test]
    fn a_statement_may_end_at_a_line_break_inside_a_block_comment() {
        assert!(
            read(
                "f.mjs",
                "export const up = 'a' /*\n*/ export const down = 'b'"
            )
            .is_some()
        );
        assert!(
            read(
                "f.mjs",
                "export const up = 'a' /* */ export const down = 'b'"
            )
            .is_none()
        );
        assert!(
            read(
                "f.mjs",
                "export const up = 'a' // c\u{2028}export const down = 'b'"
            )
            .is_some()
        );
    }
}
