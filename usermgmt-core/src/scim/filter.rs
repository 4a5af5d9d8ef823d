//! SCIM filters (RFC 7644 §3.4.2.2) parsed into a tree: attribute expressions with `eq ne co
//! sw ew gt ge lt le pr`, `and` / `or` / `not`, grouping, and value paths such as
//! `emails[type eq "work"].value` (the trailing sub-attribute kept on the value path). Keywords
//! and operators are case-insensitive; `not` binds tighter than `and`, `and` than `or`.

use nom::branch::alt;
use nom::bytes::complete::{tag, tag_no_case, take_while1};
use nom::character::complete::{char, multispace0, multispace1};
use nom::combinator::{all_consuming, map, opt, value};
use nom::sequence::{delimited, preceded};
use nom::{IResult, Parser};

/// The longest filter accepted, in bytes.
pub const MAX_FILTER_LEN: usize = 4096;

/// The deepest nesting of groups, `not` and value paths accepted.
pub const MAX_FILTER_DEPTH: usize = 32;

/// An attribute path: an optional schema URI, the attribute, an optional sub-attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttrPath {
    /// The schema URI (e.g. the enterprise extension's), when written.
    pub uri: Option<String>,
    /// The attribute name.
    pub name: String,
    /// The sub-attribute (`name.familyName`), when written.
    pub sub: Option<String>,
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    /// Equal.
    Eq,
    /// Not equal.
    Ne,
    /// Contains.
    Co,
    /// Starts with.
    Sw,
    /// Ends with.
    Ew,
    /// Greater than.
    Gt,
    /// Greater than or equal.
    Ge,
    /// Less than.
    Lt,
    /// Less than or equal.
    Le,
}

/// A comparison's value.
#[derive(Debug, Clone, PartialEq)]
pub enum CompValue {
    /// `null`.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// A JSON number.
    Number(serde_json::Number),
    /// A JSON string.
    String(String),
}

/// A parsed filter.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// `attr pr`: the attribute has a value.
    Present(AttrPath),
    /// `attr op value`.
    Compare(AttrPath, CompareOp, CompValue),
    /// `attr[filter]` (with an optional `.sub` after the bracket, kept in `sub`).
    ValuePath {
        /// The multi-valued attribute.
        attr: AttrPath,
        /// The filter its values are matched with.
        filter: Box<Filter>,
        /// A sub-attribute written after the bracket.
        sub: Option<String>,
    },
    /// `not (filter)`.
    Not(Box<Filter>),
    /// Both.
    And(Box<Filter>, Box<Filter>),
    /// Either.
    Or(Box<Filter>, Box<Filter>),
}

/// Why a filter was refused (SCIM's `invalidFilter`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid filter: {0}")]
pub struct InvalidFilter(pub String);

/// Parses a filter.
pub fn parse(text: &str) -> Result<Filter, InvalidFilter> {
    if text.len() > MAX_FILTER_LEN {
        return Err(InvalidFilter(format!("longer than {MAX_FILTER_LEN} bytes")));
    }
    // Nesting is bounded before parsing, so the recursive parser cannot run deep.
    let mut depth = 0usize;
    let mut deepest = 0usize;
    let mut quoted = false;
    let mut escaped = false;
    for c in text.chars() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            '(' | '[' if !quoted => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            ')' | ']' if !quoted => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    if deepest > MAX_FILTER_DEPTH {
        return Err(InvalidFilter(format!(
            "nested deeper than {MAX_FILTER_DEPTH}"
        )));
    }
    match all_consuming(delimited(multispace0, or_expr, multispace0)).parse(text) {
        Ok((_, filter)) => Ok(filter),
        Err(_) => Err(InvalidFilter(format!("cannot read `{}`", excerpt(text)))),
    }
}

/// The start of `text`, for an error message.
fn excerpt(text: &str) -> String {
    let cut: String = text.chars().take(80).collect();
    if cut.len() < text.len() {
        format!("{cut}…")
    } else {
        cut
    }
}

fn or_expr(input: &str) -> IResult<&str, Filter> {
    let (mut rest, mut left) = and_expr(input)?;
    while let Ok((after, right)) =
        preceded((multispace1, tag_no_case("or"), multispace1), and_expr).parse(rest)
    {
        left = Filter::Or(Box::new(left), Box::new(right));
        rest = after;
    }
    Ok((rest, left))
}

fn and_expr(input: &str) -> IResult<&str, Filter> {
    let (mut rest, mut left) = unary(input)?;
    while let Ok((after, right)) =
        preceded((multispace1, tag_no_case("and"), multispace1), unary).parse(rest)
    {
        left = Filter::And(Box::new(left), Box::new(right));
        rest = after;
    }
    Ok((rest, left))
}

fn group(input: &str) -> IResult<&str, Filter> {
    delimited((char('('), multispace0), or_expr, (multispace0, char(')'))).parse(input)
}

fn unary(input: &str) -> IResult<&str, Filter> {
    alt((
        map(preceded((tag_no_case("not"), multispace0), group), |f| {
            Filter::Not(Box::new(f))
        }),
        group,
        attribute_expression,
    ))
    .parse(input)
}

fn attribute_expression(input: &str) -> IResult<&str, Filter> {
    let (rest, attr) = attr_path(input)?;
    if let Ok((rest, filter)) =
        delimited((char('['), multispace0), or_expr, (multispace0, char(']'))).parse(rest)
    {
        let (rest, sub) = opt(preceded(char('.'), name)).parse(rest)?;
        return Ok((
            rest,
            Filter::ValuePath {
                attr,
                filter: Box::new(filter),
                sub: sub.map(str::to_owned),
            },
        ));
    }
    let (rest, _) = multispace1(rest)?;
    if let Ok((rest, _)) = tag_no_case::<_, _, nom::error::Error<&str>>("pr").parse(rest)
        && !rest.starts_with(|c: char| c.is_ascii_alphanumeric())
    {
        return Ok((rest, Filter::Present(attr)));
    }
    let (rest, op) = compare_op(rest)?;
    let (rest, _) = multispace1(rest)?;
    let (rest, value) = comp_value(rest)?;
    Ok((rest, Filter::Compare(attr, op, value)))
}

fn name(input: &str) -> IResult<&str, &str> {
    take_while1(|c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '$')(input)
}

/// `[URI ":"] name ["." sub]`: the URI is everything up to the last `:` of the token.
fn attr_path(input: &str) -> IResult<&str, AttrPath> {
    let (rest, token) =
        take_while1(|c: char| c.is_ascii_alphanumeric() || "_-$:.".contains(c))(input)?;
    let (uri, local) = match token.rfind(':') {
        Some(at) => (Some(&token[..at]), &token[at + 1..]),
        None => (None, token),
    };
    let (attr, sub) = match local.split_once('.') {
        Some((attr, sub)) => (attr, Some(sub)),
        None => (local, None),
    };
    let valid = |s: &str| {
        s.starts_with(|c: char| c.is_ascii_alphabetic() || c == '$')
            && !s.contains('.')
            && !s.is_empty()
    };
    if !valid(attr) || sub.is_some_and(|s| !valid(s)) || uri.is_some_and(str::is_empty) {
        return Err(nom::Err::Error(nom::error::Error::new(
            input,
            nom::error::ErrorKind::Verify,
        )));
    }
    Ok((
        rest,
        AttrPath {
            uri: uri.map(str::to_owned),
            name: attr.to_owned(),
            sub: sub.map(str::to_owned),
        },
    ))
}

fn compare_op(input: &str) -> IResult<&str, CompareOp> {
    alt((
        value(CompareOp::Eq, tag_no_case("eq")),
        value(CompareOp::Ne, tag_no_case("ne")),
        value(CompareOp::Co, tag_no_case("co")),
        value(CompareOp::Sw, tag_no_case("sw")),
        value(CompareOp::Ew, tag_no_case("ew")),
        value(CompareOp::Gt, tag_no_case("gt")),
        value(CompareOp::Ge, tag_no_case("ge")),
        value(CompareOp::Lt, tag_no_case("lt")),
        value(CompareOp::Le, tag_no_case("le")),
    ))
    .parse(input)
}

fn comp_value(input: &str) -> IResult<&str, CompValue> {
    alt((
        value(CompValue::Null, tag_no_case("null")),
        value(CompValue::Bool(true), tag_no_case("true")),
        value(CompValue::Bool(false), tag_no_case("false")),
        string,
        number,
    ))
    .parse(input)
}

/// A JSON string: the text up to the closing quote (escapes skipped), decoded by serde_json.
fn string(input: &str) -> IResult<&str, CompValue> {
    let (rest, _) = tag("\"")(input)?;
    let mut escaped = false;
    for (at, c) in rest.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => {
                let literal = &input[..at + 2];
                return match serde_json::from_str::<String>(literal) {
                    Ok(text) => Ok((&rest[at + 1..], CompValue::String(text))),
                    Err(_) => Err(nom::Err::Error(nom::error::Error::new(
                        input,
                        nom::error::ErrorKind::Escaped,
                    ))),
                };
            }
            _ => {}
        }
    }
    Err(nom::Err::Error(nom::error::Error::new(
        input,
        nom::error::ErrorKind::Char,
    )))
}

/// A JSON number.
fn number(input: &str) -> IResult<&str, CompValue> {
    let (rest, token) = take_while1(|c: char| c.is_ascii_digit() || "+-.eE".contains(c))(input)?;
    match serde_json::from_str::<serde_json::Number>(token) {
        Ok(number) => Ok((rest, CompValue::Number(number))),
        Err(_) => Err(nom::Err::Error(nom::error::Error::new(
            input,
            nom::error::ErrorKind::Digit,
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attr(name: &str) -> AttrPath {
        AttrPath {
            uri: None,
            name: name.to_owned(),
            sub: None,
        }
    }

    fn text(s: &str) -> CompValue {
        CompValue::String(s.to_owned())
    }

    #[test]
    fn the_rfc_examples_parse() {
        let examples = [
            r#"userName Eq "john""#,
            r#"name.familyName co "O'Malley""#,
            r#"userName sw "J""#,
            r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J""#,
            "title pr",
            r#"meta.lastModified gt "2011-05-13T04:42:34Z""#,
            r#"title pr and userType eq "Employee""#,
            r#"title pr or userType eq "Intern""#,
            r#"schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User""#,
            r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#,
            r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#,
            r#"userType eq "Employee" and emails[type eq "work" and value co "@example.com"]"#,
            r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#,
        ];
        for example in examples {
            assert!(parse(example).is_ok(), "{example}: {:?}", parse(example));
        }
    }

    #[test]
    fn precedence_grouping_paths_and_values() {
        assert_eq!(
            parse(r#"a eq 1 or b eq true and not (c pr)"#).unwrap(),
            Filter::Or(
                Box::new(Filter::Compare(
                    attr("a"),
                    CompareOp::Eq,
                    CompValue::Number(1.into())
                )),
                Box::new(Filter::And(
                    Box::new(Filter::Compare(
                        attr("b"),
                        CompareOp::Eq,
                        CompValue::Bool(true)
                    )),
                    Box::new(Filter::Not(Box::new(Filter::Present(attr("c"))))),
                )),
            )
        );
        let enterprise = parse(
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "7""#,
        )
        .unwrap();
        assert_eq!(
            enterprise,
            Filter::Compare(
                AttrPath {
                    uri: Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User".into()),
                    name: "employeeNumber".into(),
                    sub: None,
                },
                CompareOp::Eq,
                text("7")
            )
        );
        assert_eq!(
            parse(r#"emails[type eq "work"].value"#).unwrap(),
            Filter::ValuePath {
                attr: attr("emails"),
                filter: Box::new(Filter::Compare(attr("type"), CompareOp::Eq, text("work"))),
                sub: Some("value".into()),
            }
        );
        assert_eq!(
            parse(r#"name.givenName EQ "A \"quoted\" \u00e9""#).unwrap(),
            Filter::Compare(
                AttrPath {
                    uri: None,
                    name: "name".into(),
                    sub: Some("givenName".into())
                },
                CompareOp::Eq,
                text("A \"quoted\" é")
            )
        );
        assert_eq!(
            parse("a eq null").unwrap(),
            Filter::Compare(attr("a"), CompareOp::Eq, CompValue::Null)
        );
    }

    fn any_filter() -> impl proptest::strategy::Strategy<Value = Filter> {
        use proptest::prelude::*;
        let names = prop::sample::select(vec!["userName", "emails", "type", "value", "a1", "$ref"]);
        let path = (
            prop::option::of(prop::sample::select(vec![
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
                "urn:x",
            ])),
            names.clone(),
            prop::option::of(names.clone()),
        )
            .prop_map(|(uri, name, sub)| AttrPath {
                uri: uri.map(str::to_owned),
                name: name.to_owned(),
                sub: sub.map(str::to_owned),
            });
        let op = prop::sample::select(vec![
            CompareOp::Eq,
            CompareOp::Ne,
            CompareOp::Co,
            CompareOp::Sw,
            CompareOp::Ew,
            CompareOp::Gt,
            CompareOp::Ge,
            CompareOp::Lt,
            CompareOp::Le,
        ]);
        let value = prop_oneof![
            Just(CompValue::Null),
            any::<bool>().prop_map(CompValue::Bool),
            any::<i64>().prop_map(|n| CompValue::Number(n.into())),
            ".{0,12}".prop_map(CompValue::String),
        ];
        let leaf = prop_oneof![
            path.clone().prop_map(Filter::Present),
            (path.clone(), op, value).prop_map(|(p, o, v)| Filter::Compare(p, o, v)),
        ];
        leaf.prop_recursive(4, 24, 2, move |inner| {
            prop_oneof![
                inner.clone().prop_map(|f| Filter::Not(Box::new(f))),
                (inner.clone(), inner.clone())
                    .prop_map(|(a, b)| Filter::And(Box::new(a), Box::new(b))),
                (inner.clone(), inner.clone())
                    .prop_map(|(a, b)| Filter::Or(Box::new(a), Box::new(b))),
                (path.clone(), inner, prop::option::of(names.clone())).prop_map(
                    |(attr, f, sub)| Filter::ValuePath {
                        attr,
                        filter: Box::new(f),
                        sub: sub.map(str::to_owned),
                    }
                ),
            ]
        })
    }

    proptest::proptest! {
        /// Any filter, written out, parses back to itself.
        #[test]
        fn filters_round_trip_through_text(filter in any_filter()) {
            let text = filter.to_string();
            proptest::prop_assert_eq!(parse(&text), Ok(filter), "{}", text);
        }
    }

    #[test]
    fn malformed_filters_are_refused() {
        for bad in [
            "",
            "userName",
            r#"userName eq"#,
            r#"userName xx "a""#,
            r#"userName eq "unterminated"#,
            r#"(userName eq "a""#,
            r#"userName eq "a" and"#,
            r#"emails[type eq "work""#,
            "title pr extra",
            "1abc pr",
            r#"userName eq 'single'"#,
            "a eq 1.2.3",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        let deep = format!("{}a pr{}", "(".repeat(40), ")".repeat(40));
        assert!(parse(&deep).is_err());
        assert!(parse(&"a".repeat(5000)).is_err());
    }
}
