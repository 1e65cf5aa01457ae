//! What a collection's filters mean, described once: [`Filter::of`] turns a collection's
//! arguments into a tree of conditions, and each read path renders that tree: the general one
//! as a sea-query condition ([`Filter::condition`]), the compiled one as SQL text
//! (`selection`). A differential test (tests/api/compiled.rs) holds both to the same answers.
//!
//! The rules: every `equals` clause must hold; of the `search` groups at least one must hold,
//! every clause of a group; `general_search` matches a row when any of its columns contains
//! the text. "Contains" is case-insensitive (both sides lowered, `%` `_` `\` in the text
//! matched literally); "not equal to x" includes rows with no value (SQL's `<>` alone would
//! drop them); every operator but `IS NULL`/`IS NOT NULL` needs a value.

use sea_orm::sea_query::{Expr, Func, LikeExpr};
use sea_orm::{ColumnTrait, Condition, EntityTrait, ExprTrait, Value};

use super::collection::{Clause, CollectionArgs, FilterValue, Op};
use crate::error::{AppError, AppResult};
use crate::service::base::store::column;

/// A condition over one collection's rows.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// Every one holds (none: true).
    All(Vec<Filter>),
    /// At least one holds (none: false).
    Any(Vec<Filter>),
    /// A test of one column.
    Column { column: &'static str, test: Test },
}

/// What a column is tested for.
#[derive(Debug, Clone, PartialEq)]
pub enum Test {
    IsNull,
    IsNotNull,
    /// `LOWER(column) [NOT] LIKE pattern ESCAPE '\'`: the pattern is lowered and escaped.
    Like {
        pattern: String,
        negated: bool,
    },
    /// `column <op> value`.
    Compare(Cmp, Value),
    /// `column <> value OR column IS NULL`.
    NotEqualOrNull(Value),
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    Eq,
    Gt,
    Gte,
    Lt,
    Lte,
}

impl Cmp {
    /// The operator in SQL, with the spaces around it.
    pub fn sql(self) -> &'static str {
        match self {
            Cmp::Eq => " = ",
            Cmp::Gt => " > ",
            Cmp::Gte => " >= ",
            Cmp::Lt => " < ",
            Cmp::Lte => " <= ",
        }
    }
}

impl Test {
    /// What `clause` tests its column for; `VALIDATION_FAILED` naming the column when its
    /// operator needs a value it lacks.
    pub fn of(clause: &Clause) -> AppResult<Test> {
        let value = clause.value.clone().map(FilterValue::into_value);
        Ok(match (clause.op, value) {
            (Op::IsNull, _) => Test::IsNull,
            (Op::IsNotNull, _) => Test::IsNotNull,
            (op @ (Op::Contains | Op::NotContains), Some(Value::String(Some(s)))) => Test::Like {
                pattern: format!("%{}%", escape_like(&s.to_lowercase())),
                negated: op == Op::NotContains,
            },
            (Op::Eq, Some(v)) => Test::Compare(Cmp::Eq, v),
            (Op::Neq, Some(v)) => Test::NotEqualOrNull(v),
            (Op::Gt, Some(v)) => Test::Compare(Cmp::Gt, v),
            (Op::Gte, Some(v)) => Test::Compare(Cmp::Gte, v),
            (Op::Lt, Some(v)) => Test::Compare(Cmp::Lt, v),
            (Op::Lte, Some(v)) => Test::Compare(Cmp::Lte, v),
            _ => {
                return Err(AppError::validation(
                    clause.column,
                    "a value is required for this operator",
                ))
            }
        })
    }
}

impl Filter {
    /// The filter `args` describe (without paging, sorting or hidden rows): an [`Filter::All`]
    /// of the `equals` clauses, then the `search` groups as one [`Filter::Any`] (when there are
    /// any), then `general_search` as one [`Filter::Any`] over its columns (when given).
    pub fn of(args: &CollectionArgs) -> AppResult<Filter> {
        let column = |clause: &Clause| -> AppResult<Filter> {
            Ok(Filter::Column {
                column: clause.column,
                test: Test::of(clause)?,
            })
        };
        let mut all = Vec::new();
        for clause in &args.equals {
            all.push(column(clause)?);
        }
        if !args.search.is_empty() {
            let mut any = Vec::with_capacity(args.search.len());
            for group in &args.search {
                any.push(Filter::All(
                    group.iter().map(column).collect::<AppResult<_>>()?,
                ));
            }
            all.push(Filter::Any(any));
        }
        if let Some((text, columns)) = &args.general_search {
            let mut any = Vec::with_capacity(columns.len());
            for name in columns {
                any.push(column(&Clause {
                    column: name,
                    op: Op::Contains,
                    value: Some(FilterValue::Str(text.clone())),
                })?);
            }
            all.push(Filter::Any(any));
        }
        Ok(Filter::All(all))
    }

    /// The filter as a sea-query condition over `E`'s columns.
    pub fn condition<E: EntityTrait>(&self) -> AppResult<Condition> {
        Ok(match self {
            Filter::All(parts) => {
                let mut all = Condition::all();
                for part in parts {
                    all = all.add(part.condition::<E>()?);
                }
                all
            }
            Filter::Any(parts) => {
                let mut any = Condition::any();
                for part in parts {
                    any = any.add(part.condition::<E>()?);
                }
                any
            }
            Filter::Column { column: name, test } => {
                let col = column::<E>(name)?;
                let expr = match test {
                    Test::IsNull => col.is_null(),
                    Test::IsNotNull => col.is_not_null(),
                    Test::Like { pattern, negated } => {
                        let lowered = Expr::expr(Func::lower(col.into_expr()));
                        let like = LikeExpr::new(pattern.clone()).escape('\\');
                        if *negated {
                            lowered.not_like(like)
                        } else {
                            lowered.like(like)
                        }
                    }
                    Test::Compare(cmp, v) => {
                        let v = v.clone();
                        match cmp {
                            Cmp::Eq => col.eq(v),
                            Cmp::Gt => col.gt(v),
                            Cmp::Gte => col.gte(v),
                            Cmp::Lt => col.lt(v),
                            Cmp::Lte => col.lte(v),
                        }
                    }
                    Test::NotEqualOrNull(v) => {
                        return Ok(Condition::any().add(col.ne(v.clone())).add(col.is_null()))
                    }
                };
                Condition::all().add(expr)
            }
        })
    }
}

/// `s` with the characters `LIKE` gives a meaning (`\`, `%`, `_`) escaped with `\`.
pub fn escape_like(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clause(op: Op, value: Option<FilterValue>) -> Clause {
        Clause {
            column: "name",
            op,
            value,
        }
    }

    #[test]
    fn contains_is_lowered_and_escaped_and_not_equal_keeps_rows_without_a_value() {
        assert_eq!(
            Test::of(&clause(
                Op::Contains,
                Some(FilterValue::Str("50%_A\\".into()))
            ))
            .unwrap(),
            Test::Like {
                pattern: "%50\\%\\_a\\\\%".into(),
                negated: false
            }
        );
        assert!(matches!(
            Test::of(&clause(Op::Neq, Some(FilterValue::Str("x".into())))).unwrap(),
            Test::NotEqualOrNull(_)
        ));
        let err = Test::of(&clause(Op::Gt, None)).unwrap_err();
        assert_eq!(err.code(), "VALIDATION_FAILED");
    }

    #[test]
    fn search_groups_are_one_any_of_alls_after_the_equals_clauses() {
        let args = CollectionArgs {
            equals: vec![clause(Op::IsNull, None)],
            search: vec![vec![], vec![clause(Op::IsNotNull, None)]],
            general_search: Some(("x".into(), vec!["name"])),
            ..Default::default()
        };
        let Filter::All(parts) = Filter::of(&args).unwrap() else {
            panic!("not an All");
        };
        assert_eq!(parts.len(), 3);
        assert!(
            matches!(&parts[1], Filter::Any(groups) if groups.len() == 2 && groups[0] == Filter::All(vec![]))
        );
        assert!(matches!(&parts[2], Filter::Any(columns) if columns.len() == 1));
    }
}
