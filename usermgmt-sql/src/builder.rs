//! `Sql`: query text with its parameters, as neutral values a backend binds to its driver.

use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

/// A parameter, in neutral form: each backend encodes it for its driver (SQLite stores times
/// as microseconds and UUIDs as 16-byte blobs; PostgreSQL has native types).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// SQL NULL.
    Null,
    /// A boolean.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// Text.
    Text(String),
    /// Bytes.
    Bytes(Vec<u8>),
    /// An instant.
    Time(DateTime<Utc>),
    /// A calendar date.
    Date(NaiveDate),
    /// A UUID.
    Uuid(Uuid),
    /// A list of texts, for dialects with array parameters.
    Texts(Vec<String>),
    /// A list of UUIDs, for dialects with array parameters.
    Uuids(Vec<Uuid>),
}

macro_rules! value_from {
    ($($t:ty => $v:ident),* $(,)?) => {$(
        impl From<$t> for Value {
            fn from(value: $t) -> Self {
                Value::$v(value.into())
            }
        }
    )*};
}

value_from!(
    bool => Bool, i64 => Int, i32 => Int, u32 => Int, String => Text, &str => Text,
    Vec<u8> => Bytes, DateTime<Utc> => Time, NaiveDate => Date, Uuid => Uuid,
    Vec<String> => Texts, Vec<Uuid> => Uuids,
);

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(value: Option<T>) -> Self {
        value.map_or(Value::Null, Into::into)
    }
}

/// How placeholders are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Placeholders {
    /// `?` (SQLite).
    #[default]
    Question,
    /// `$1`, `$2`, … (PostgreSQL).
    Numbered,
}

/// Where a placeholder stands in the text until it is written in the query's style (a
/// character no SQL text of ours contains).
const MARK: char = '\u{1}';

/// SQL text under construction with its positional parameters.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sql {
    text: String,
    params: Vec<Value>,
    style: Placeholders,
}

impl Sql {
    /// An empty query with this placeholder style.
    pub fn new(style: Placeholders) -> Self {
        Self {
            style,
            ..Self::default()
        }
    }

    /// Appends text (never input: column names come from fixed matches).
    pub fn push(&mut self, text: &str) -> &mut Self {
        debug_assert!(
            !text.contains(MARK),
            "SQL text holding the placeholder mark"
        );
        // `?` or `$n` followed by a digit would read as another placeholder.
        debug_assert!(
            !(self.text.ends_with(MARK) && text.starts_with(|c: char| c.is_ascii_digit())),
            "a digit right after a placeholder"
        );
        self.text.push_str(text);
        self
    }

    /// Appends a placeholder bound to `value`.
    pub fn bind(&mut self, value: impl Into<Value>) -> &mut Self {
        self.params.push(value.into());
        self.text.push(MARK);
        self
    }

    /// Appends another query's text and parameters (a sub-query, a `FROM` part).
    pub fn splice(&mut self, other: &Sql) -> &mut Self {
        self.text.push_str(&other.text);
        self.params.extend(other.params.iter().cloned());
        self
    }

    /// Appends `(p, p, …)`, one placeholder per value.
    pub fn bind_list<V: Into<Value>>(&mut self, values: impl IntoIterator<Item = V>) -> &mut Self {
        self.text.push('(');
        for (i, value) in values.into_iter().enumerate() {
            if i > 0 {
                self.text.push_str(", ");
            }
            self.bind(value);
        }
        self.text.push(')');
        self
    }

    /// The text, placeholders written in the query's style.
    pub fn text(&self) -> String {
        match self.style {
            Placeholders::Question => self.text.replace(MARK, "?"),
            Placeholders::Numbered => {
                let mut out = String::with_capacity(self.text.len() + 2 * self.params.len());
                let mut n = 0_usize;
                for c in self.text.chars() {
                    if c == MARK {
                        n += 1;
                        out.push('$');
                        out.push_str(&n.to_string());
                    } else {
                        out.push(c);
                    }
                }
                out
            }
        }
    }

    /// The parameters, in placeholder order.
    pub fn params(&self) -> &[Value] {
        &self.params
    }

    /// The text between placeholders, each piece with the parameter that follows it (the
    /// last piece has none): for drivers whose builders write their own placeholders.
    pub fn pieces(&self) -> impl Iterator<Item = (&str, Option<&Value>)> {
        let mut params = self.params.iter();
        self.text
            .split(MARK)
            .map(move |piece| (piece, params.next()))
    }

    /// The text (see [`Sql::text`]) and the parameters.
    pub fn into_parts(self) -> (String, Vec<Value>) {
        (self.text(), self.params)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_follow_the_style() {
        let mut q = Sql::new(Placeholders::Question);
        q.push("a = ")
            .bind(1_i64)
            .push(" AND b IN ")
            .bind_list(["x", "y"]);
        assert_eq!(q.text(), "a = ? AND b IN (?, ?)");
        let mut n = Sql::new(Placeholders::Numbered);
        n.push("a = ").bind(1_i64);
        let mut sub = Sql::new(Placeholders::Numbered);
        sub.push(" AND b IN ").bind_list(["x", "y"]);
        n.splice(&sub);
        assert_eq!(n.text(), "a = $1 AND b IN ($2, $3)");
        assert_eq!(n.params().len(), 3);
    }
}
