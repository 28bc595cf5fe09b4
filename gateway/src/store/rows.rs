//! Multi-row statements: many rows written by one statement. On SQLite every statement is a
//! hand-off to the connection's worker thread and back, so a batch that wrote each row on its
//! own spent most of its time in those hand-offs; one `INSERT … VALUES (…), (…), …` per table
//! writes the same rows in one. Both backends take the same text (`$n` placeholders).

use super::Tx;
use super::{Db, StoreError};

/// One bound value of a row.
#[derive(Debug)]
pub(super) enum Cell {
    Text(String),
    MaybeText(Option<String>),
    Int(i64),
    MaybeInt(Option<i64>),
}

impl From<String> for Cell {
    fn from(v: String) -> Self {
        Self::Text(v)
    }
}

impl From<&str> for Cell {
    fn from(v: &str) -> Self {
        Self::Text(v.to_owned())
    }
}

impl From<Option<String>> for Cell {
    fn from(v: Option<String>) -> Self {
        Self::MaybeText(v)
    }
}

impl From<i64> for Cell {
    fn from(v: i64) -> Self {
        Self::Int(v)
    }
}

impl From<Option<i64>> for Cell {
    fn from(v: Option<i64>) -> Self {
        Self::MaybeInt(v)
    }
}

/// Bound values per statement at most. SQLite names `$n` parameters in a list it searches
/// from the start, when it parses a statement and again for each value bound, so a
/// statement's cost grows with the square of its values: 6,000 cost about 66 ms, 600 under
/// 1 ms (measured with SQLite's own bindings); a few hundred per statement keeps each row's
/// share of that near a statement's fixed cost. Far under both databases' limits (32,766 and
/// 65,535).
pub(super) const MAX_VALUES: usize = 600;

/// Rows of `width` values per statement, at most [`MAX_VALUES`] values.
pub(super) fn rows_per_statement(width: usize) -> usize {
    (MAX_VALUES / width.max(1)).max(1)
}

/// `$first, $first+1, …` for `width` values, in parentheses.
fn tuple(first: usize, width: usize) -> String {
    let cells: Vec<String> = (first..first + width).map(|n| format!("${n}")).collect();
    format!("({})", cells.join(", "))
}

/// `(…), (…), …`: `rows` tuples of `width` placeholders, numbered from `$1`.
pub(super) fn tuples(rows: usize, width: usize) -> String {
    let tuples: Vec<String> = (0..rows).map(|r| tuple(r * width + 1, width)).collect();
    tuples.join(", ")
}

/// Runs `head VALUES (…), (…), … tail` over `rows` (each exactly `width` cells), as few
/// statements as the bound-value limit allows. Answers the rows affected. The statements are
/// not kept prepared: their text changes with the row count.
pub(super) async fn insert_rows(
    tx: &mut Tx,
    head: &str,
    width: usize,
    tail: &str,
    rows: Vec<Vec<Cell>>,
) -> Result<u64, StoreError> {
    debug_assert!(rows.iter().all(|r| r.len() == width));
    let per_statement = rows_per_statement(width);
    let mut affected = 0;
    let mut rest = rows;
    while !rest.is_empty() {
        let later = rest.split_off(per_statement.min(rest.len()));
        let chunk = std::mem::replace(&mut rest, later);
        let sql = format!("{head} VALUES {}{tail}", tuples(chunk.len(), width));
        let mut query = sqlx::query(&sql).persistent(false);
        for cell in chunk.into_iter().flatten() {
            query = match cell {
                Cell::Text(v) => query.bind(v),
                Cell::MaybeText(v) => query.bind(v),
                Cell::Int(v) => query.bind(v),
                Cell::MaybeInt(v) => query.bind(v),
            };
        }
        affected += query.execute(&mut **tx).await.db()?.rows_affected();
    }
    Ok(affected)
}

/// `{select} WHERE {column} IN (…){tail}` over `keys` on `pool`, a statement per
/// [`MAX_VALUES`] keys: every row found (ordered by `tail` within each statement).
pub(super) async fn fetch_in(
    pool: &super::Connections,
    (select, column, tail): (&str, &str, &str),
    keys: &[String],
) -> Result<Vec<sqlx::any::AnyRow>, StoreError> {
    let mut rows = Vec::new();
    for chunk in keys.chunks(MAX_VALUES) {
        let sql = format!("{select} WHERE {column} IN ({}){tail}", list(chunk.len()));
        let mut query = sqlx::query(&sql).persistent(false);
        for key in chunk {
            query = query.bind(key.clone());
        }
        rows.extend(query.fetch_all(pool).await.db()?);
    }
    Ok(rows)
}

/// `$1, $2, …, $count`, for an `IN (…)` list.
pub(super) fn list(count: usize) -> String {
    let cells: Vec<String> = (1..=count).map(|n| format!("${n}")).collect();
    cells.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_across_rows() {
        assert_eq!(tuples(2, 3), "($1, $2, $3), ($4, $5, $6)");
        assert_eq!(list(3), "$1, $2, $3");
    }

    #[tokio::test]
    async fn rows_beyond_one_statement_are_all_written() {
        let pool = crate::store::memory_pool(
            "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, note TEXT)",
        )
        .await;
        // 3 values a row: 200 rows per statement, so sixty statements.
        let rows: Vec<Vec<Cell>> = (0..12_000i64)
            .map(|i| {
                vec![
                    Cell::from(i),
                    Cell::from(format!("n{i}")),
                    Cell::from((i % 2 == 0).then(|| "even".to_owned())),
                ]
            })
            .collect();
        let mut tx = pool.begin().await.unwrap();
        let written = insert_rows(&mut tx, "INSERT INTO t (id, name, note)", 3, "", rows)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        assert_eq!(written, 12_000);
        let (count, evens, last): (i64, i64, String) = sqlx::query_as(
            "SELECT COUNT(*), COUNT(note), (SELECT name FROM t WHERE id = 11999) FROM t",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        assert_eq!((count, evens, last.as_str()), (12_000, 6_000, "n11999"));
    }
}
