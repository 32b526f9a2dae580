//! Expectations checked together, so that a failing test lists every wrong
//! answer at once rather than the first.

use std::fmt::Debug;

use tonic::{Code, Status};

type Reply<T> = Result<T, Status>;

/// Expected outcomes checked together: a failure lists every wrong answer.
#[derive(Debug, Default)]
pub struct Checks {
    wrong: Vec<String>,
}

impl Checks {
    /// Records `result` against the expected code.
    pub fn code<T: Debug>(&mut self, what: &str, result: &Reply<T>, expected: Code) {
        let answer = match result {
            Ok(_) if expected == Code::Ok => return,
            Err(status) if status.code() == expected => return,
            Ok(value) => format!("OK {value:?}"),
            Err(status) => format!("{:?} {:?}", status.code(), status.message()),
        };
        let answer: String = answer.chars().take(300).collect();
        let line = format!("{what}: expected {expected:?}, got {answer}");
        self.wrong.push(line);
    }

    /// Awaits a call and records its outcome; returns the refusal's text.
    pub async fn call<T: Debug>(
        &mut self,
        what: &str,
        expected: Code,
        call: impl Future<Output = Reply<T>>,
    ) -> String {
        let result = call.await;
        self.code(what, &result, expected);
        result.err().map_or(String::new(), |s| s.message().into())
    }

    /// Records a difference between what came back and what was expected.
    pub fn eq<T: PartialEq + Debug>(&mut self, what: &str, got: T, want: T) {
        if got != want {
            let line = format!("{what}: got {got:?}, expected {want:?}");
            self.wrong.push(line);
        }
    }

    /// Records a failed expectation unless `holds`.
    pub fn that(&mut self, holds: bool, what: &str) {
        if !holds {
            self.wrong.push(what.to_owned());
        }
    }

    /// Panics listing every wrong answer.
    #[track_caller]
    pub fn verify(self) {
        let wrong = self.wrong.join("\n  ");
        assert!(self.wrong.is_empty(), "wrong answers:\n  {wrong}");
    }
}
