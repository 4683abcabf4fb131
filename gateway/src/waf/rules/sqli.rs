//! SQL injection: UNION queries, tautologies, stacked and time-based queries,
//! catalog access and dangerous procedures. Read over the `Sql` view, where
//! block comments are already spaces.

use super::{CRITICAL, ERROR, NOTICE, Rule, Scope, View::Norm, View::Short, View::Sql, WARNING, rule};
use crate::waf::Class::{Nosql, Sqli};

pub fn rules() -> Vec<Rule> {
    vec![
        // UNION-based extraction.
        rule(1001, Sqli, CRITICAL, Sql, r"\bunion\b[\s(]*(all\b|distinct\b|distinctrow\b)?[\s(]*select\b"),
        // A quote closed and followed by a boolean operator: `' or`, `" and`.
        rule(
            1002,
            Sqli,
            WARNING,
            Sql,
            r#"(['"]\s*|`)(\bor\b|\band\b|\bxor\b|\|\||&&|\bdiv\b|\blike\b|\brlike\b|\bregexp\b)"#,
        ),
        // Tautology between literals: `or 1=1`, `and 'a'='a'`, `or 2>1`.
        rule(
            1003,
            Sqli,
            CRITICAL,
            Sql,
            r#"(\bor\b|\band\b|\bxor\b|\bhaving\b|\bwhere\b|\|\||&&)\s*[(\s]*(\d+|'[^']*'|"[^"]*"|null|true|false)\s*[)\s]*(=|<=>|<>|!=|<|>|\blike\b|\bis\b)\s*[(\s]*(\d+|'[^']*'|"[^"]*"|null|true|false)"#,
        ),
        // Tautology against a column: `or id=1`, `and user like`; not a
        // word before a tag ("or contact <a href=...>").
        rule(
            1004,
            Sqli,
            WARNING,
            Sql,
            r#"(\bor\b|\band\b|\bxor\b|\|\||&&)\s+[(\s]*[a-z_@][\w.@]*\s*[)\s]*(=|<=>|<>|!=|<([^a-z/!]|$)|>|\blike\b|\brlike\b|\bregexp\b|\bin\s*\(|\bbetween\b|\bis\s+(not\s+)?null\b)"#,
        ),
        // Time-based blind injection. Not a method (`time.sleep(5)`,
        // `asyncio.sleep(`): SQL's functions are called bare.
        rule(
            1005,
            Sqli,
            CRITICAL,
            Sql,
            r"(^|[^.\w])(sleep|pg_sleep|benchmark|randomblob)\s*\(|\b(dbms_lock\.sleep|dbms_pipe\.receive_message)\s*\(|\bwaitfor\s+(delay|time)\b",
        ),
        // System catalogs and metadata.
        rule(
            1006,
            Sqli,
            CRITICAL,
            Sql,
            r"\b(information_schema|mysql\.(user|db|proc)|sysobjects|syscolumns|sysdatabases|sysusers|sysprocesses|pg_(catalog|shadow|user|tables|database|namespace|proc)|sqlite_(master|schema|temp_master|version)|all_tables|user_tables|all_tab_columns|user_objects|msysaccessobjects|msysobjects|msysqueries|sysibm\.\w+|syscat\.\w+|sys\.(tables|objects|columns|databases|sql_logins|server_principals)|master\.\.sys\w*|rdb\$\w+)\b",
        ),
        // Procedures and functions that reach files, network or the OS.
        rule(
            1007,
            Sqli,
            CRITICAL,
            Sql,
            r"\b(xp_cmdshell|xp_regread|xp_regwrite|xp_dirtree|xp_fileexist|xp_servicecontrol|sp_executesql|sp_oacreate|sp_oamethod|sp_password|sp_makewebtask|sp_addlogin|sp_addsrvrolemember|sp_configure|openrowset|opendatasource|openquery|load_file|lo_import|lo_export|utl_http|utl_inaddr|utl_file|dbms_xmlquery|dbms_java|dbms_sql|dbms_xmlgen|dbms_aw|sys_eval|sys_exec)\b|\binto\s+(out|dump)file\b|\bload\s+data\s+(local\s+)?infile\b|\bcopy\s+\S+\s+(from|to)\s+program\b",
        ),
        // Stacked queries after a statement separator.
        rule(
            1008,
            Sqli,
            CRITICAL,
            Sql,
            r"(;|\)|'|\x22)\s*(drop|alter|create|truncate|rename)\s+(table|database|schema|user|view|procedure|function|index|trigger|login)\b|;\s*(delete\s+from|insert\s+into|update\s+\S+\s+set|exec(ute)?\s+[\w.\[\]]*(xp_|sp_|master\.|@|\()|declare\s+@|shutdown\b|waitfor\b|select\s+(\*|@@|\S+\s*\(|\S+\s+from\b))",
        ),
        // SELECT with SQL-only syntax right after it. `SELECT *` needs what
        // SQL lets follow it: a FROM clause that ends or goes on as SQL does,
        // `INTO`, a comment or the end ("Select * from the menu is not a
        // valid choice" is English).
        rule(
            1009,
            Sqli,
            CRITICAL,
            Sql,
            r"\bselect\b\s*(\*\s*(from\s*[\w.`\x22\[\]()]+(\s+(as\s+)?[\w`\x22]+)?\s*($|\bwhere\b|\blimit\b|\border\b|\bgroup\b|\bunion\b|\bjoin\b|\binner\b|\bleft\b|\bright\b|\bcross\b|\bnatural\b|\bhaving\b|\binto\b|\bprocedure\b|--|#|;|\)|,)|\binto\b|$|,|--|#|;|\))|@@\w|top\s+\d|distinct\b|null\b|\(\s*select\b|(count|char|chr|concat|group_concat|version|user|database|schema|substring|ascii|if|case|cast|pg_sleep|sleep|load_file)\s*\()|\bselect\s+[\w.,`\x22\s]{1,80}\s+from\s+[\w.`\x22\[\]]+\s*(\bwhere\b|\blimit\b|\border\b|\bgroup\b|\bunion\b|--|#|;|\))",
        ),
        // A quote or number closed, then a comment cuts the rest of the query
        // (`##` is a digit placeholder: `(050) ###-##-##`).
        // Not an attribute's fragment or colour (`href="#top"`,
        // `bgcolor="#fff"`), a quote opened after `=`.
        rule(1010, Sqli, WARNING, Sql, r#"((^|[^=])['"`]|\d\))\s*\)*\s*(--|#([^#]|$)|;\s*(--|#|$)|\{`)"#),
        // Character-building and string functions typical of payloads.
        rule(
            1011,
            Sqli,
            CRITICAL,
            Sql,
            r"\b(char|chr|nchar)\s*\(\s*\d+\s*(,\s*\d+\s*)+\)|\b(char|chr)\s*\(\s*\d+\s*\)\s*(\|\||\+)|\b(concat_ws|group_concat|extractvalue|updatexml|make_set|name_const|export_set|json_keys|gtid_subset|polygon|multipoint|geometrycollection|linestring|exp\s*\(\s*~)\s*\(",
        ),
        rule(
            1012,
            Sqli,
            CRITICAL,
            Sql,
            r"@@(version|datadir|hostname|basedir|servername|identity|tmpdir|spid)\b",
        ),
        rule(
            1013,
            Sqli,
            WARNING,
            Sql,
            r"\b(version|database|user|current_user|system_user|session_user|schema|db_name|user_name|suser_name|host_name|current_database|connection_id|last_insert_id|row_count)\s*\(\s*\)",
        ),
        rule(1014, Sqli, WARNING, Sql, r#"(['"`]|\d)\s*\)?\s*(order|group)\s+by\s+[\w`]+"#),
        rule(
            1015,
            Sqli,
            CRITICAL,
            Sql,
            r"\bcase\s+when\b.{1,200}\bthen\b|\bif\s*\(.{1,100},.{0,100},.{0,100}\)\s*(--|#|$|and|or)",
        ),
        // EXEC of a string, a variable or a procedure; prose that says
        // "to execute (e.g., ...)" opens a parenthesis on words.
        rule(
            1016,
            Sqli,
            CRITICAL,
            Sql,
            r"\bexec(ute)?\s*(\(\s*([^a-z\s]|[a-z]+([^a-z\s.,;:]|$)|$)|@|master\.|xp_|sp_|immediate\b)|\bdeclare\s+@\w+|\bset\s+@\w+\s*=",
        ),
        rule(
            1017,
            Sqli,
            CRITICAL,
            Sql,
            r"\binsert\s+into\s+[\w.`\x22\[\]]+\s*(\(|values\b|select\b)|\bdelete\s+from\s+[\w.`\x22\[\]]+\s*(where\b|;|--|#)|\bupdate\s+[\w.`\x22\[\]]+\s+set\s+[\w.`\x22\[\]]+\s*=",
        ),
        // A DROP statement ends after its names (or goes on with a clause
        // or a condition): "drop table tennis rackets off" is an errand.
        rule(
            1018,
            Sqli,
            WARNING,
            Sql,
            r"\bdrop\s+(table|database|schema|view|procedure|function|trigger|index)\s+(if\s+exists\s+)?[\w.`\x22\[\]]+\s*($|[;#,)'\x22]|--|\b(and|or|cascade|restrict|purge|go|end)\b)",
        ),
        // Concatenation out of a string into a subquery or function.
        rule(
            1019,
            Sqli,
            CRITICAL,
            Sql,
            r#"['"]\s*(\|\||\+|&|\bdiv\b|\*)\s*['"(\s]*(select|sleep|pg_sleep|char|chr|concat|extractvalue|version|user|db_name|benchmark|ascii|substr\w*)\b"#,
        ),
        rule(
            1020,
            Sqli,
            CRITICAL,
            Sql,
            r"\bprocedure\s+analyse\s*\(|\b(and|or|&&|\|\|)\s+(not\s+)?(exists|select|sleep|benchmark|ascii|substr\w*|char|length|if|ord|mid)\s*\(",
        ),
        rule(
            1021,
            Sqli,
            WARNING,
            Sql,
            r"\b(from|join)\s+(dual|information_schema)\b|\blimit\s+\d+\s*,\s*\d+\s*(--|#)|\boffset\s+\d+\s+rows\b",
        ),
        rule(
            1022,
            Sqli,
            NOTICE,
            Sql,
            r"\b0x[0-9a-f]{8,}\b|\bunhex\s*\(|\bhex\s*\(|\bsubstr(ing)?\s*\(|\bascii\s*\(|\bconvert\s*\(|\bcast\s*\(.{1,60}\bas\b",
        ),
        rule(1023, Sqli, ERROR, Sql, r#"^\s*['"`]\s*\)*\s*(or|and|union|having|order|group|select|;)\b"#),
        // Quotes around a comparison (`x'='x`, `1' <> '2`), unless they
        // quote the operator alone between spaces: "contains '&' or '<'".
        rule(
            1024,
            Sqli,
            WARNING,
            Sql,
            r#"\S['"`]\s*(=|<>|!=|<|>)\s*['"`]|['"`]\s*(=|<>|!=|<|>)\s*['"`]\S|['"`]\s*\bis\s+(not\s+)?null\b"#,
        ),
        // A value that starts with a boolean operator and a comparison: the
        // tail of a condition appended to the server's own. `is` and `like`
        // only as SQL writes them: "And here is the reply" is English. Or
        // that is the operator and a number alone (`or 88`).
        rule(
            1025,
            Sqli,
            CRITICAL,
            Sql,
            r#"^[^\w<]{0,3}\s*(and|or|xor|div|\|\||&&)\s*[(\s!]*[\w@.'"`]+\s*[)\s]*(=|==|!=|<>|<=>|<|>|\blike\s*['"(\d]|\bis\s+(not\s+)?(null|true|false|unknown)\b)|^\s*(or|and|xor)\s+[-+]?\d+(\.\d+)?\s*$"#,
        ),
        // `&&x=`, `||(a==`: with a space after the operator that is 1004's,
        // and C's `&& x == y` would count twice.
        rule(
            1026,
            Sqli,
            WARNING,
            Sql,
            r#"(\|\||&&)(\(\s*)?[\w@.]+\s*(==|!=|=|<>)|\s(or|and|xor)\s*$|\bnot\s*null\b|\bnotnull\b|\bisnull\b|\bcollate\s*['"\w]"#,
        ),
        // A quote closed, a short expression, and a comment to end of value.
        // Not a heading's underline ("What it's not for" over a line of
        // dashes, which this view joins): four dashes and more are no
        // comment an injection writes.
        rule(1027, Sqli, CRITICAL, Sql, r#"['"`]([^'"`]{0,60}[^'"`-])?(--|---|#)(\s+-+)?\s*$"#),
        // A quote closed straight into a `--` comment, which hides whatever
        // follows it on the line (`admin'-- x`): libinjection lets a `--`
        // comment with text pass, as prose ends sentences with one. Glued:
        // prose sets its dashes apart (`Said "hi" -- and left`), and
        // Markdown's code spans (a backquote) are followed by them.
        rule(1075, Sqli, CRITICAL, Sql, r#"['"]--(\s[^'"`\n]*)?$"#),
        // NoSQL (MongoDB) operators as keys, bracketed parameter names, or
        // keys of a JSON object written into a value (`{"$gt": ""}`,
        // `{$where: ...}`, `, $ne: 1`, `'$or': [...]`).
        rule(
            1028,
            Nosql,
            CRITICAL,
            Sql,
            r#"(^\s*["']?|\[\s*|[{,]\s*["']?)\$(ne|eq|gt|gte|lt|lte|in|nin|regex|where|exists|elemmatch|nor|or|and|not|expr|jsonschema|type|mod|all|size|text|function|accumulator|lookup|ifnull|options|comment|search)\b"#,
        ),
        // Server-side JavaScript in a query a database evaluates (MongoDB's
        // $where, mapReduce): a string closed into `return true`, JavaScript
        // equality tautologies (`'a'=='a'`, `||1==1`: SQL has no `==`; not a
        // Python REPL's prefixed literal, `>>> b'' == ''`), a
        // field matched against anything, shell helpers, busy loops.
        rule(
            1080,
            Nosql,
            CRITICAL,
            Norm,
            r#"['"]\s*;\s*return\b|^\s*\d*\s*;\s*return\s*\(?\s*(true|false|1|0|this|['"])|(^|[^\w])['"]\w*['"]\s*===?\s*['"]|\|\|\s*\(?\s*\d+\s*===?\s*\d+|\bthis\s*\.\s*\w+\s*(\.\s*(match|test|search|indexof|startswith|endswith|includes)\s*\(|\[\s*\d+\s*\]\s*===?)|\bdb\s*\.\s*(\w+\s*\.\s*)?(find\w*|insert\w*|update\w*|remove|delete\w*|drop\w*|getcollection\w*|getsiblingdb|eval|aggregate|createuser|runcommand|adminCommand|mapreduce)\s*\(|\bfunction\s*\(\s*\)\s*\{\s*return\s+(true|1|this)\b|\bdo\s*\{[^}]{0,60}\}\s*while\s*\(|\bsleep\s*\(\s*\d{3,}\s*\)"#,
        ),
        // A document field compared in JavaScript (`' && this.pass == 'x`):
        // in a short value; prose about code says it in passing.
        rule(1081, Nosql, CRITICAL, Short, r#"\bthis\s*\.\s*\w+\s*[!=]==?\s*['"/]"#),
        // A boolean operator before a number compared, XOR, a variable set,
        // and an alias in a select list (`) as x from`). Prose's "score
        // (MQCS) as provided from" matches too; telling them apart by the
        // parenthesis (`count(*)` against ` (MQCS)`) cost 5% of the corpus
        // replay's time for one string in 6,000 API descriptions.
        rule(
            1029,
            Sqli,
            CRITICAL,
            Sql,
            r#"(\bor\b|\band\b|\bxor\b|\|\||&&)\s+['"`(]*\s*\d+\s*['"`)]*\s*(=|==|<=>|<>|!=|<|>)|\bxor\b\s*['"`\d(]|\bset\s+@@?\w+|\)\s*as\s+['"`]?\w+['"`]?\s+from\b"#,
        ),
        // A quote and a keyword (`' union`, `"from`), not a keyword quoted
        // as a word ("SELECT" or "Premium").
        rule(
            1030,
            Sqli,
            WARNING,
            Sql,
            r#"(['"]\s*|`)(not|collate|glob|is|in|between|sounds\s+like|union|select|having|limit|procedure|into|from|where)\b([^'"`]|$)|(;|--)\s*(update|drop|alter|create|truncate|delete|insert|select|shutdown|rename|grant|revoke)\b|\(\s*select\b"#,
        ),
        rule(
            1031,
            Sqli,
            WARNING,
            Sql,
            r"\b(database|schema_name|current_user|db_name|user|sysdate|xmltype|uncompress|compress|lo_get|unistr|json_build_object|sqlite_compileoption_get|json_valid|likelihood|pg_read_file|pg_ls_dir)\s*\(",
        ),
        // UNION SELECT in a path segment, where `+` is not a space to the
        // server but is to the application that splits the segment.
        Rule {
            scope: Scope::Path,
            ..rule(1032, Sqli, CRITICAL, Sql, r#"['"`)]\+?union\+(all\+|distinct\+)?select\+"#)
        },
        rule(
            1033,
            Sqli,
            CRITICAL,
            Sql,
            r#"\bgroup\s+by\s+[\w.`"]+\s+having\b|\bhaving\s+(count|sum|avg|min|max)\s*\([^)]*\)\s*(=|<|>|!=|<>)"#,
        ),
        rule(
            1034,
            Sqli,
            CRITICAL,
            Sql,
            r#"\balter\s+table\s+[\w.`"\[\]]+\s+(add|change|modify|drop|rename|alter)\b|\bcreate\s+(function|procedure|table|trigger|view)\s+[\w.`"]+\s*\("#,
        ),
        // Time delays without parentheses (`waitfor+delay+'`, `select pg_sleep`).
        rule(
            1035,
            Sqli,
            CRITICAL,
            Sql,
            r#"\bwaitfor[\s+]+(delay|time)[\s+]*['"]|\bselect\s+(pg_sleep|sleep|benchmark)\b"#,
        ),
        // The rest of a CASE after an injected `)`.
        rule(1036, Sqli, CRITICAL, Sql, r#"\)\s*when\s+[a-z0-9_'"]+\s+then\b"#),
        // PostgreSQL casts (`password::int` leaks the value in the error).
        rule(
            1037,
            Sqli,
            CRITICAL,
            Sql,
            r"[a-z0-9_)]::(int|integer|bigint|smallint|text|varchar|numeric|jsonb?|bool|boolean|double\s+precision|regclass|oid|bytea)\b",
        ),
        // A statement cut short by a comment: `drop sampletable;--`.
        rule(1038, Sqli, CRITICAL, Sql, r"\b(drop|delete|truncate|update|insert|alter)\s[^;]*;\s*(--|#)"),
        // Operators glued between quotes (`a'or'a`, `\"or"1`): prose spaces them.
        rule(1039, Sqli, CRITICAL, Sql, r#"['"`](or|and|xor|div)['"`][\w(]"#),
        rule(1040, Sqli, CRITICAL, Sql, r#"^\s*[0-9]+['"]?\s+(or|and|xor|\|\||&&)\s+(true|false|not\b|\{)"#),
        // Closing a string in a VALUES list and adding a tautology: `'a', '1'='1'`.
        rule(1041, Sqli, CRITICAL, Sql, r#"['"]\s*,\s*['"]?[0-9]+['"]?\s*=\s*['"]?[0-9]"#),
        rule(1042, Sqli, CRITICAL, Sql, r"\b(except|intersect)\s+select\b"),
        // PostgreSQL JSON operators between literals (`'{..}'::jsonb @> '{..}'`);
        // an operator alone between quotes of one kind is a quoted term
        // ("the first `"@@"` hunk header").
        rule(
            1043,
            Sqli,
            CRITICAL,
            Sql,
            r#"['"](::[a-z]+\s*|\s+)(@>|<@|\?\||\?&|->>|#>>|@\?|@@)\s*['"0-9]|['"](@>|<@|\?\||\?&|->>|#>>|@\?|@@)(\s+['"0-9]|[0-9])|'(@>|<@|\?\||\?&|->>|#>>|@\?|@@)"|"(@>|<@|\?\||\?&|->>|#>>|@\?|@@)'"#,
        ),
        // A subquery assigned, or a statement that opens the value.
        rule(
            1044,
            Sqli,
            CRITICAL,
            Sql,
            r"=\s*\(\s*select\b|^\s*;\s*(update|drop|delete|insert|truncate|alter|create|shutdown)\b|^\s*--\s*(alter|drop|delete|truncate|update|insert|shutdown)\b",
        ),
        // A condition that closes the server's parenthesis, or leaves a
        // string open at the end of the value for the server to close.
        rule(
            1045,
            Sqli,
            CRITICAL,
            Sql,
            r#"\b(and|or)\s+[a-z_][a-z0-9_.]*\s*(=|!=|<>)\s*('[^']*'|[0-9]+)\s*\)|\b(or|and)\s+[a-z_][a-z0-9_.]*\s*(=|!=|<>|<|>|like)\s*['"]\s*$"#,
        ),
        rule(1046, Sqli, CRITICAL, Sql, r#"['"`]\s*(\|\||&&)\s*['"(]*\s*(true|false|[0-9]+|select|sleep)\b"#),
        rule(1047, Sqli, CRITICAL, Sql, r#"\blike\s+['"][^'"]*%?['"]?\s*(--|#)|\)\s*like\s*\("#),
        rule(1048, Sqli, CRITICAL, Sql, r"\b(and|or)\s+(starts_with|glob|json)\s*\("),
        // A column alias then FROM: the middle of a SELECT list
        // (`` ` AS `user_id` from ``, `1234 AS "x" FROM`).
        rule(
            1049,
            Sqli,
            CRITICAL,
            Sql,
            r#"`\s*as\s*`[^`]+`\s*from\b|\b[0-9]+\s+as\s+(['"`][^'"`]*['"`]|['"`])\s*from\b"#,
        ),
        rule(1050, Sqli, CRITICAL, Sql, r"\bhaving\s+[0-9]+\s*(=|<|>)|\bselect\s*\(\s*case\b"),
        // A value that ends a string and the statement (`admin@site.op';`).
        rule(
            1052,
            Sqli,
            CRITICAL,
            Sql,
            r#"^[^\s'"`;]+@[^\s'"`;]+['"`]\s*;\s*$|^\s*[a-z0-9_.-]+['"`]\s*;\s*$|^\s*['"`]\s*;\s*([a-z0-9_]+['"`]?)?\s*$"#,
        ),
        // The quotes and parenthesis a scanner sends to break a query's
        // syntax and read the error (`'"(`, `1"'(`), a whole short value;
        // `f('')` and `print("'")` are calls.
        rule(1082, Sqli, CRITICAL, Short, r#"^\S{0,16}('"|"')\s*\(\s*$"#),
        // A condition left dangling for the server's query to complete
        // (`/3 or `, `x and (`): the trailing space or parenthesis is the tell.
        rule(1053, Sqli, CRITICAL, Sql, r"^\s*([a-z_]+=)?/?[a-z0-9_]+\s+(or|and)(\s+|\s*\()$"),
        rule(
            1054,
            Sqli,
            CRITICAL,
            Sql,
            r#"^\s*['"`]\s*alter\b|^\s*['"`]\s*\*\s*from\b|^\s*['"`]\s*=\s*#|^\s*['"]\s*xor\b"#,
        ),
        // An assignment list continued after a string (`hash = 'abc', 0x1a`).
        rule(
            1055,
            Sqli,
            CRITICAL,
            Sql,
            r#"^\s*[a-z0-9_]+\s*=\s*'[^']*'\s*,\s*(0x[0-9a-f]+|\(\s*[0-9]+\s*\))\s*$|^\s*,\s*[a-z0-9_]+"\s*=|,\s*find_in_set\s*\(|,\s*1\s*=\s*1\b"#,
        ),
        // System catalogues, sample databases and linked-server providers
        // named on their own.
        rule(
            1057,
            Sqli,
            CRITICAL,
            Sql,
            r"^\s*(tempdb|msdb|northwind|schema_name|information_schema|sysobjects|syscolumns|pg_catalog|mysql\.user|sqlite_master)\s*$|\b(msdasql|sqloledb|openrowset|opendatasource)\b",
        ),
        // A word glued to an operator and an opening parenthesis, cut off
        // there (`length||(`, `password>$(`, `if !(`): the head of a
        // function-call injection.
        rule(
            1058,
            Sqli,
            CRITICAL,
            Sql,
            r"^\s*[a-z_]+\s*((\|\||&&|[?<>=]|/\?|\]=|\)|'|&)\s*)+!*\$?\(\s*$|^\s*(if|in|default|local|time|ln\))\s*[!\\'$]*\s*\(\s*$",
        ),
        // SQL-only operators and clauses as the whole value.
        rule(
            1059,
            Sqli,
            CRITICAL,
            Sql,
            r"^\s*(rlike|<=>|not\s+regexp|sounds\s+like)\s*$|^\s*execute\s+[a-z_]{3,}\s*$|&sql_delimit\b",
        ),
        rule(
            1060,
            Sqli,
            CRITICAL,
            Sql,
            r#"^\s*(not\s+)?in\s*\(\s*[a-z0-9_'"-]+(\s*,\s*[a-z0-9_'"-]+)+\s*\)\s*$"#,
        ),
        // Quote-and-number fragments that close a string and continue the
        // statement: `' ', 10`, `` `>65 ``, `":60`, `"2562*23`, `` "` * 123 ``.
        rule(
            1062,
            Sqli,
            CRITICAL,
            Sql,
            r#"^\s*['"`]\s*(,\s*['"`]{2}\s*)*,\s*[0-9]+\s*$|^\s*['"`]{2}(\s*,\s*['"`]{2})+\s*,\s*[0-9]+\s*$|^\s*['"]\s*,\s*[0-9]+\s*,\s*[0-9]+\s*$|^\s*'\s*'\s*,\s*[0-9]+\s*$"#,
        ),
        rule(
            1063,
            Sqli,
            CRITICAL,
            Sql,
            r#"^\s*['"`]\s*[<>]\s*[0-9a-f]+\s*$|^\s*['"`]\s*:\s*['"\[]*[0-9]|^\s*['"][0-9]+\*[0-9]+\s*$|^\s*['"][0-9]+:[0-9]+:[0-9]+\s*$|^\s*`\s*<\s*0\s*\)|^\s*['"`]+\s*\*\s*[0-9]+\s*$|^\s*'[^']*'\s*(!=|<>)\s*'[^']*$"#,
        ),
        // Conditions: `and password glob password`, `or 1#`, `3' ' 1`, `admin '`,
        // `\' and 1`, `admin' or 'x' <`, and fingerprinting calls cut off at
        // `user(`.
        rule(
            1064,
            Sqli,
            CRITICAL,
            Sql,
            r#"\b(and|or)\s+[a-z_][a-z0-9_]*\s+(glob|regexp|rlike)\s+[a-z0-9_]|^\s*(or|and)\s+[0-9]+\s*(#|--)|^\s*(and|or)\s+'[^']*'[a-z]|^\s*[0-9]+'\s+'\s*[0-9]+\s*$|^\s*[a-z0-9_]+\s+'\s*$|\\'\s*(and|or)\s+[0-9]|\b[a-z_][a-z0-9_]*\s+like\s+'\s*$|['"]\s*(or|and)\s+['"][^'"]*['"]\s*(=|<|>|<>|!=)\s*$|\b(user|version|database|schema|current_user)\s*\(\s*$"#,
        ),
        // A value that is nothing but a call to a SQL function that reads,
        // sleeps, fingerprints or decodes: `xmltype(`, `lo_get(16400)`.
        rule(
            1065,
            Sqli,
            CRITICAL,
            Sql,
            r"^\s*(xmltype|uncompress|compress|md5|sha1|sha2|concat|concat_ws|char|chr|ascii|substring|substr|mid|hex|unhex|load_file|benchmark|sleep|pg_sleep|version|database|current_user|session_user|system_user|user|extractvalue|updatexml|lo_get|lo_import|lo_export|div|group_concat|json_extract|json_keys|ifnull|nullif|char_length|instr|elt|make_set|export_set|name_const|utl_inaddr\.get_host_address|dbms_pipe\.receive_message|sys_context|xp_cmdshell)\s*\\?\(\s*([^()]*\)\s*)?$",
        ),
        // Statement pieces: `6 as" from`, `/create table persons`, `; select`,
        // hex literals, `xunionselect`.
        rule(
            1066,
            Sqli,
            CRITICAL,
            Sql,
            r#"\bas\s*['"`]\s*from\b|(^|/)\s*create\s+table\s+[a-z_][a-z0-9_]*\s*$|^\s*;\s*(select|update|delete|insert|drop)\b|\bselect\s+0x[0-9a-f]+|^\s*\\0x[0-9a-f]|union(all)?select|\bfrom[\s+]+`[a-z0-9_.]+`[\s+]+where[\s+]"#,
        ),
        // PostgreSQL casts and JSON operators after a quoted literal
        // (`'[1]'::jsonb`, `'{..}' ?| array[`), and MySQL's `1.e(` float
        // that glues a number to a function.
        rule(
            1068,
            Sqli,
            CRITICAL,
            Sql,
            r#"['"\]]::(int|integer|bigint|text|varchar|numeric|jsonb?|bool|boolean|regclass|bytea)\b|['"]\s*(\?\||\?&)\s*(array\s*\[|')|\b[0-9]+\.e\s*\("#,
        ),
        // Tautologies around a closed parenthesis (`hi') or ('a'='a`), a
        // condition then a comment (`' or 1 --`, `order by 1--`), T-SQL's
        // PRINT of a variable and its extended procedures.
        rule(
            1069,
            Sqli,
            CRITICAL,
            Sql,
            r#"['"]\s*\)\s*(or|and)\s*\(\s*['"]|['"]\s*(or|and)\s+[0-9]+\s*(--|#)|\border\s+by\s+[0-9]+\s*(--|#)|\bprint\s+@@?[a-z_]|^\s*exec(ute)?\s+(xp|sp)\b"#,
        ),
        // sqlmap's shapes: a boundary that reopens a string for the server
        // to close (`AND (('ab' LIKE 'ab`), conditions inside ELT/IIF or
        // multiplied, `OR NOT 1=1`, and the REGEXP_SUBSTRING(REPEAT(...)) sleep.
        rule(
            1070,
            Sqli,
            CRITICAL,
            Sql,
            r#"\b(and|or)\s+\(*\s*['"][a-z0-9%]+['"]?\s*(=|like)\s*['"][a-z0-9%]+$|\b(elt|iif|if)\s*\(\s*[0-9]+\s*=\s*[0-9]+\s*,|\(\s*[0-9]+\s*=\s*[0-9]+\s*\)\s*\*\s*[0-9]|\b(or|and)\s+not\s+[0-9]+\s*=\s*[0-9]+|\bregexp_substring\s*\(\s*repeat\s*\(|;\s*call\s+[a-z_.]+\s*\("#,
        ),
        // Block comments standing in for spaces or splitting a keyword
        // (`DR/**/OP`, `SELECT/*x*/password/**/FROM`), read before the Sql
        // view removes them. Not path globs, where `/*/` is a segment
        // (`projects/*/locations/*/keys`, Google's resource names), nor
        // text between two globs ("'pods/*' means all subresources of
        // pods. '*/scale'"): a comment that splits a word is short.
        rule(
            1071,
            Sqli,
            CRITICAL,
            Norm,
            r"[a-z]/\*([^*/][^*]{0,31})?\*/[a-z]|\b(select|union|from|where|drop|insert|update|delete|having|order|group|and|or)\s*/\*[^*]*\*/\s*[a-z0-9('\x22@`]",
        ),
        // A URL path segment that is a bare `*` or an empty comment
        // (`/*/*/2 union`): no route has one.
        Rule { scope: Scope::Path, ..rule(1072, Sqli, CRITICAL, Norm, r"/\*/|/\*\*/") },
        // A value opening with a closed string and a comment (`'#mysql`,
        // `' --`), a quoted sleep, and XPath axes (`count(/child::node())`).
        rule(
            1073,
            Sqli,
            CRITICAL,
            Norm,
            r"^\s*'\s*(#|--(\s|$))|^\s*'\s*(sleep|benchmark|pg_sleep)\s*\(?\s*[0-9]+\s*\)?\s*'\s*$|\b(child|descendant|ancestor|parent|following|preceding|self|attribute)(-or-self|-sibling)?::(node|text|comment|\*)\s*(\(|\b)",
        ),
        // A value opening with a logic operator, a boolean and a comment
        // (`or true--`, `and false#`): a condition with nothing before it,
        // appended to a query.
        rule(1074, Sqli, CRITICAL, Sql, r"^\s*(or|and|xor|\|\||&&)\s+(not\s+)?(true|false)\s*(--|#|;)"),
        // The float that hangs Java's and PHP's parsers (CVE-2010-4476).
        rule(1051, Sqli, CRITICAL, Norm, r"\b2\.2250738585072011e-308\b"),
    ]
}
