//! Query filters that APIs take as a value: Google's AIP-160
//! (`state = "ACTIVE" AND labels.env = "prod"`), Jira's JQL
//! (`project = ABC AND status in ("Open") ORDER BY created DESC`), OData's
//! `$filter` (`Name eq 'x' and Age gt 30`), SCIM's (`userName sw "J"`) and
//! CEL conditions (`request.method == 'GET' && user.name == 'alice'`).
//! They are made of what SQL injections are made of (`AND`, `OR`, quotes,
//! `=`), so the SQL signs fire on them; a value that is such a filter from
//! its first byte to its last is a query the API parses, not a fragment
//! breaking out of one.
//!
//! An injection cannot be written as one: it opens with a number
//! (`1 OR 1=1`) or a quote (`' OR 'a'='a`), where a filter opens with a
//! field's name; it compares literals (`1=1`) or a field with itself, where a
//! filter compares a field with a value; and it needs what the grammar
//! below leaves out: statements (`SELECT`, `UNION`, `;`), comments (`--`,
//! `#`, `/*`), calls with arguments (`sleep(5)`), arithmetic and
//! concatenation.

/// Words no filter holds unquoted, and every SQL injection one of; and the
/// functions that read a file or fetch a document (XPath's `doc()`, MySQL's
/// `load_file()`), which a filter's call with a quoted argument could name.
const SQL_ONLY: &[&str] = &[
    "select",
    "union",
    "insert",
    "update",
    "delete",
    "drop",
    "exec",
    "execute",
    "sleep",
    "benchmark",
    "waitfor",
    "from",
    "where",
    "having",
    "group",
    "into",
    "declare",
    "cast",
    "convert",
    "case",
    "when",
    "then",
    "else",
    "limit",
    "offset",
    "procedure",
    "truncate",
    "alter",
    "create",
    "grant",
    "shutdown",
    "pg_sleep",
    "load_file",
    "extractvalue",
    "updatexml",
    "doc",
    "document",
    "unparsed-text",
    "collection",
];

/// Comparisons written as words: OData (`eq`, `gt`), SCIM (`co`, `sw`),
/// SQL-like filters (`like`).
const WORD_OPERATORS: &[&str] =
    &["eq", "ne", "gt", "ge", "lt", "le", "co", "sw", "ew", "like", "ilike", "has", "contains"];

/// Longest filter judged: longer values are documents, not parameters.
const MAX_FILTER: usize = 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token<'a> {
    /// A name or bare value: letters, digits, `_`, `.`, `-`, `:` inside.
    Word(&'a str),
    /// A quoted string, closed.
    Quoted,
    /// A comparison: `=`, `==`, `!=`, `<>`, `<`, `<=`, `>`, `>=`, `~`,
    /// `=~`, `!~`, `:`.
    Compare,
    /// `&&`, `||`.
    Join,
    Not,
    Open,
    Close,
    Comma,
}

/// Whether the whole of `text` is a query filter (see the module's
/// documentation), with at least one comparison of a field.
pub fn is_query_filter(text: &str) -> bool {
    comparisons(text) > 0
}

/// Whether `text` is a query filter of several comparisons joined
/// (`a = "x" AND b >= 2`); `name=value` alone is one comparison, and is
/// also how a form pair reads.
pub fn is_joined_query_filter(text: &str) -> bool {
    comparisons(text) > 1
}

/// The comparisons of the query filter `text` is, 0 if it is none.
fn comparisons(text: &str) -> usize {
    if text.len() > MAX_FILTER || text.contains("--") {
        return 0;
    }
    let Some(tokens) = tokens(text) else { return 0 };
    let mut parser = Parser { tokens: &tokens, at: 0, comparisons: 0 };
    let whole = parser.expression(0) && parser.order_by() && parser.at == tokens.len();
    if whole { parser.comparisons } else { 0 }
}

fn tokens(text: &str) -> Option<Vec<Token<'_>>> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        let two = b.get(i..i + 2).unwrap_or_default();
        let (token, len) = match c {
            _ if c.is_ascii_whitespace() => {
                i += 1;
                continue;
            }
            b'"' | b'\'' => (Token::Quoted, plain_quoted_len(b.get(i..)?)?),
            b'(' => (Token::Open, 1),
            b')' => (Token::Close, 1),
            b',' => (Token::Comma, 1),
            _ if matches!(two, b"&&" | b"||") => (Token::Join, 2),
            _ if matches!(two, b"==" | b"!=" | b"<>" | b"<=" | b">=" | b"=~" | b"!~") => (Token::Compare, 2),
            b'=' | b'<' | b'>' | b'~' | b':' => (Token::Compare, 1),
            b'!' => (Token::Not, 1),
            _ if is_word_byte(c) => {
                let len =
                    b.get(i..)?.iter().position(|&c| !is_word_byte(c) && c != b':').unwrap_or(b.len() - i);
                let word = text.get(i..i + len)?;
                // A colon ends a name (`labels.env:prod`, `displayName:"x"`)
                // and stays in a value (`12:30`, `2021-01-01T00:00:00Z`).
                let len = match word.find(':') {
                    Some(colon) if c.is_ascii_alphabetic() => colon,
                    _ => len,
                };
                (Token::Word(text.get(i..i + len)?), len)
            }
            _ => return None,
        };
        if len == 0 {
            return None;
        }
        out.push(token);
        i += len;
    }
    Some(out)
}

fn is_word_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-')
}

/// The length of the quoted value `s` opens, if what it quotes is plain
/// (`"In Progress"`, `"2021-01-01T00:00:00Z"`, `'O''Brien'`): no other
/// quote, comparison, statement end, comment or `or`/`and` inside. A value
/// placed inside the server's own string would break out at the first
/// quote, and `a = ' or b = '` reads there as `'a = ' or b = ''`.
fn plain_quoted_len(s: &[u8]) -> Option<usize> {
    let len = quoted_len(s)?;
    let inside = s.get(1..len - 1)?;
    let quote = s.first()?;
    let unquoted: Vec<u8> =
        inside.iter().filter(|&b| b != quote && *b != b'\\').map(u8::to_ascii_lowercase).collect();
    let sql_mark = unquoted.iter().any(|b| b"'\"`=<>;#".contains(b))
        || unquoted.windows(2).any(|w| w == b"/*")
        || unquoted
            .split(|b| !b.is_ascii_alphanumeric())
            .any(|w| matches!(w, b"or" | b"and" | b"union" | b"select"));
    (!sql_mark).then_some(len)
}

/// The length of the quoted string `s` opens, its quote doubled or
/// backslash-escaped inside; `None` if it is not closed.
fn quoted_len(s: &[u8]) -> Option<usize> {
    let quote = *s.first()?;
    let mut i = 1;
    while let Some(&c) = s.get(i) {
        match c {
            b'\\' => i += 2,
            _ if c == quote && s.get(i + 1) == Some(&quote) => i += 2,
            _ if c == quote => return Some(i + 1),
            _ => i += 1,
        }
    }
    None
}

struct Parser<'t, 'a> {
    tokens: &'t [Token<'a>],
    at: usize,
    comparisons: usize,
}

/// Parentheses a filter nests: deeper is not a filter people write.
const MAX_DEPTH: usize = 8;

impl<'a> Parser<'_, 'a> {
    fn peek(&self) -> Option<Token<'a>> {
        self.tokens.get(self.at).copied()
    }

    fn word_is(&self, words: &[&str]) -> bool {
        matches!(self.peek(), Some(Token::Word(w)) if words.iter().any(|k| w.eq_ignore_ascii_case(k)))
    }

    fn eat(&mut self, token: Token<'_>) -> bool {
        let hit = self.peek() == Some(token);
        self.at += usize::from(hit);
        hit
    }

    fn eat_word(&mut self, words: &[&str]) -> bool {
        let hit = self.word_is(words);
        self.at += usize::from(hit);
        hit
    }

    /// `term ((and | or | && | ||) term)*`
    fn expression(&mut self, depth: usize) -> bool {
        if !self.term(depth) {
            return false;
        }
        while self.eat(Token::Join) || self.eat_word(&["and", "or"]) {
            if !self.term(depth) {
                return false;
            }
        }
        true
    }

    /// `[not | !] ('(' expression ')' | comparison)`
    fn term(&mut self, depth: usize) -> bool {
        let _ = self.eat(Token::Not) || self.eat_word(&["not"]);
        if self.eat(Token::Open) {
            return depth < MAX_DEPTH && self.expression(depth + 1) && self.eat(Token::Close);
        }
        self.comparison()
    }

    /// `field op value | field [not] in (values) | field [not] between value
    /// and value | field is [not] word | field pr`
    fn comparison(&mut self) -> bool {
        let Some(field) = self.field() else { return false };
        self.comparisons += 1;
        if self.eat(Token::Compare) || self.eat_word(WORD_OPERATORS) {
            return self.value().is_some_and(|value| !value.eq_ignore_ascii_case(field));
        }
        if self.eat_word(&["is"]) {
            let _ = self.eat_word(&["not"]);
            return self.eat_word(&["null", "empty", "true", "false"]);
        }
        let _ = self.eat_word(&["not"]);
        if self.eat_word(&["in"]) {
            return self.value_list();
        }
        if self.eat_word(&["between"]) {
            return self.value().is_some() && self.eat_word(&["and"]) && self.value().is_some();
        }
        self.eat_word(&["pr"])
    }

    /// A field's name: a word that opens with a letter and is no SQL word.
    fn field(&mut self) -> Option<&'a str> {
        match self.peek() {
            Some(Token::Word(w))
                if w.as_bytes().first().is_some_and(u8::is_ascii_alphabetic) && !sql_only(w) =>
            {
                self.at += 1;
                Some(w)
            }
            _ => None,
        }
    }

    /// A quoted string, a bare word (number, date, enum) or a call with
    /// quoted arguments or none (`currentUser()`, `timestamp("2025-01-01")`);
    /// `Some("")` for a quoted one.
    fn value(&mut self) -> Option<&'a str> {
        if self.eat(Token::Quoted) {
            return Some("");
        }
        let Some(Token::Word(w)) = self.peek() else { return None };
        if sql_only(w) {
            return None;
        }
        self.at += 1;
        if self.eat(Token::Open) && !self.eat(Token::Close) {
            while self.eat(Token::Quoted) && self.eat(Token::Comma) {}
            return self.eat(Token::Close).then_some(w);
        }
        Some(w)
    }

    /// `'(' value (',' value)* ')'`
    fn value_list(&mut self) -> bool {
        if !self.eat(Token::Open) || self.value().is_none() {
            return false;
        }
        while self.eat(Token::Comma) {
            if self.value().is_none() {
                return false;
            }
        }
        self.eat(Token::Close)
    }

    /// `[order by field [asc | desc] (',' field [asc | desc])*]` at the end.
    fn order_by(&mut self) -> bool {
        if !self.eat_word(&["order"]) {
            return true;
        }
        if !self.eat_word(&["by"]) {
            return false;
        }
        loop {
            if self.field().is_none() {
                return false;
            }
            let _ = self.eat_word(&["asc", "desc"]);
            if !self.eat(Token::Comma) {
                return true;
            }
        }
    }
}

fn sql_only(word: &str) -> bool {
    SQL_ONLY.iter().any(|k| word.eq_ignore_ascii_case(k))
}

#[cfg(test)]
mod tests {
    use super::is_query_filter;

    #[test]
    fn api_filters_are_filters() {
        for f in [
            r#"state = "ACTIVE" AND labels.env = "prod""#,
            r#"create_time > "2021-01-01T00:00:00Z" OR update_time < "2022-01-01T00:00:00Z""#,
            r#"displayName:"my-model" AND labels.team = "ml""#,
            r#"resource.type="gce_instance" AND severity>=ERROR"#,
            r#"labels.environment = "production" AND NOT labels.deprecated = "true""#,
            r#"status in ("open", "pending") and assignee = "me""#,
            r#"project = "ABC" AND status = "In Progress" ORDER BY created DESC"#,
            "project = ABC AND assignee = currentUser() AND resolution = Unresolved ORDER BY priority DESC",
            r#"priority = High OR labels in ("urgent", "p1")"#,
            "user.name == 'alice' && request.method == 'GET'",
            "Name eq 'O''Brien' and Age gt 30",
            r#"userName sw "J" and (emails.type eq "work" or title pr)"#,
            r#"request.time < timestamp("2025-01-01T00:00:00Z") && score between 10 and 20"#,
            "status = open",
        ] {
            assert!(is_query_filter(f), "{f}");
        }
    }

    #[test]
    fn injections_are_not() {
        for i in [
            "1 OR 1=1",
            "' OR 'a'='a",
            "admin' OR role = 'admin",
            "x' AND email IS NULL; --",
            "id = 1 UNION SELECT password FROM users",
            "id = 1 AND sleep(5)",
            "id = 1 AND x = sleep(5)",
            "id = 1 AND x = sleep('5' + 1)",
            "score between 1 and sleep(5)",
            "a = ' or b = '",
            r#"a = doc("//evil.example/x")"#,
            "a = load_file('/etc/passwd')",
            r#"name = "x\" OR \"1\"=\"1""#,
            "a = a",
            "id = 1 or b = b",
            "name = 'x' -- comment",
            "id = 1; DROP TABLE users",
            "id = 1 # tail",
            "id=1/**/or/**/2=2",
            "SELECT * FROM `t` LIMIT 10",
            "status = \"open",
            "ORDER BY 1",
            "x",
            "",
        ] {
            assert!(!is_query_filter(i), "{i}");
        }
    }
}
