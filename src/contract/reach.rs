//! Whether a migration module's SQL can come only from its own bytes: `check` renders a merged,
//! unchanged module again only when it reaches outside them (a helper it imports could have
//! changed since it was merged).

/// Whether a module's SQL can only come from its own bytes: outside its strings and comments,
/// none of the ways out of a module (an import, `require`, the process and its environment, the
/// global object, the network, evaluated code) is written, no template literal has an
/// expression, and no `/` or `\` stands in code (a regular expression this reading would not
/// follow, an identifier spelled with escapes). Conservative: anything it cannot follow counts as
/// reaching out, which only costs a render. It catches a module that depends on something else,
/// not one written to hide that (nothing about a merged module is a sandbox: its bytes are the
/// base's, reviewed). (`create`'s template names `import('godwit')` in JSDoc comments: those do
/// not count.)
pub fn self_contained(source: &str) -> bool {
    const WAYS_OUT: [&str; 8] = [
        "import",
        "require",
        "process",
        "globalThis",
        "fetch",
        "eval",
        "Function",
        "constructor",
    ];
    let mut code = String::with_capacity(source.len());
    let mut chars = source.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '/' if chars.peek() == Some(&'/') => {
                // a line comment, to the end of the line
                for c in chars.by_ref() {
                    if c == '\n' {
                        break;
                    }
                }
                code.push('\n');
            }
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                let mut star = false;
                loop {
                    match chars.next() {
                        Some('/') if star => break,
                        Some(c) => star = c == '*',
                        None => return false,
                    }
                }
                code.push(' ');
            }
            // a regular expression, or an identifier spelled with escapes (`\u0070rocess`)
            '/' | '\\' => return false,
            '\'' | '"' | '`' => {
                let quote = c;
                loop {
                    match chars.next() {
                        Some('\\') => {
                            chars.next();
                        }
                        Some('$') if quote == '`' && chars.peek() == Some(&'{') => return false,
                        Some(c) if c == quote => break,
                        Some(_) => {}
                        None => return false,
                    }
                }
                code.push(' ');
            }
            c => code.push(c),
        }
    }
    !WAYS_OUT.iter().any(|w| code.contains(w))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_module_is_self_contained_unless_its_code_reaches_out() {
        // what `create` writes: `import(...)` only in comments
        let template = "// 1_a.mjs\n/**\n * @type {import('godwit').MigrationSql}\n */\nexport const up = `\n  CREATE TABLE a (id int); -- http://x/y\n`;\n// /** @type {import('godwit').MigrationConfig} */\n";
        assert!(self_contained(template));
        assert!(self_contained(
            "export const up = 'SELECT \\'import\\' /* no */'\nexport const config = { transaction: false }\n"
        ));
        assert!(self_contained(
            "export const up = [\"SELECT 'process'\", 'SELECT 1']\n"
        ));
        for reaching in [
            "import { t } from '../sql.mjs'\nexport const up = t('a')\n",
            "export const up = async () => (await import('../sql.mjs')).up\n",
            "export const up = `CREATE TABLE ${process.env.T} (id int)`\n",
            "export const up = process.env.SQL\n",
            "export const up = globalThis.SQL\n",
            "export const up = String(eval('1'))\n",
            "export const up = \\u0070rocess.env.SQL\n",
            "export const up = (() => {}).constructor('return 1')()\n",
            // a regular expression this reading does not follow: counts as reaching out
            "export const up = 'x'.replace(/'/, '') // import('y')\n",
            // unterminated: cannot be followed
            "export const up = 'x\n",
            "/* open",
        ] {
            assert!(!self_contained(reaching), "{reaching}");
        }
    }
}
