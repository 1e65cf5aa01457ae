//! Several statements sent as one: on PostgreSQL, data-modifying `WITH` clauses let a write
//! and the writes that go with it (stopping an account's billing with its status change,
//! putting debits on the invoice just inserted, ending an address's history with its release)
//! travel in one statement and one round trip. Each part is built by sea-query as usual; this
//! module only renumbers the parts' `$n` placeholders into one statement. On SQLite the same
//! parts run one after the other, in the caller's transaction.

use sea_orm::{DbBackend, Statement, Values};

/// Joins the PostgreSQL statements `parts` into the text `template`, where `{0}`, `{1}`, …
/// stand for the parts in order, renumbering each part's placeholders after the previous
/// parts' values. The parts' SQL carries no literals (sea-query binds every value), so every
/// `$` followed by digits is a placeholder.
pub fn postgres(template: &str, parts: Vec<Statement>) -> Statement {
    let mut values = Vec::new();
    let mut texts = Vec::with_capacity(parts.len());
    for part in parts {
        texts.push(renumber(&part.sql, values.len()));
        if let Some(Values(v)) = part.values {
            values.extend(v);
        }
    }
    let mut sql =
        String::with_capacity(template.len() + texts.iter().map(String::len).sum::<usize>());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let close = rest[open..]
            .find('}')
            .map(|c| open + c)
            .expect("template braces");
        let index: usize = rest[open + 1..close].parse().expect("template index");
        sql.push_str(&rest[..open]);
        sql.push_str(&texts[index]);
        rest = &rest[close + 1..];
    }
    sql.push_str(rest);
    Statement::from_sql_and_values(DbBackend::Postgres, sql, values)
}

fn renumber(sql: &str, offset: usize) -> String {
    if offset == 0 {
        return sql.to_owned();
    }
    let mut out = String::with_capacity(sql.len() + 8);
    let mut chars = sql.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        out.push(c);
        if c != '$' {
            continue;
        }
        let start = i + 1;
        let mut end = start;
        while let Some((j, d)) = chars.peek().copied() {
            if !d.is_ascii_digit() {
                break;
            }
            end = j + 1;
            chars.next();
        }
        if end > start {
            let n: usize = sql[start..end].parse().expect("digits");
            out.push_str(&(n + offset).to_string());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_are_renumbered_in_order() {
        let a = Statement::from_sql_and_values(
            DbBackend::Postgres,
            "UPDATE t SET a = $1 WHERE id = $2",
            [1i64.into(), 2i64.into()],
        );
        let b = Statement::from_sql_and_values(
            DbBackend::Postgres,
            "UPDATE u SET b = $1 WHERE id = $2 RETURNING *",
            [3i64.into(), 4i64.into()],
        );
        let joined = postgres("WITH x AS ({0}) {1}", vec![a, b]);
        assert_eq!(
            joined.sql,
            "WITH x AS (UPDATE t SET a = $1 WHERE id = $2) UPDATE u SET b = $3 WHERE id = $4 RETURNING *"
        );
        assert_eq!(joined.values.unwrap().0.len(), 4);
        assert_eq!(renumber("$9 $10", 3), "$12 $13");
    }
}
