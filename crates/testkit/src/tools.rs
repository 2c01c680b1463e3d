//! Tools tests register on the engine.

use agencybot_agent::{InternalTool, ToolContext, ToolOutput};
use agencybot_core::Attachment;
use agencybot_ofapi::Access;
use futures::future::BoxFuture;
use serde_json::{Value, json};

/// Sends a CSV of `megabytes` MB to the chat (to test platform limits).
pub struct LargeFileTool {
    pub megabytes: usize,
}

impl InternalTool for LargeFileTool {
    fn name(&self) -> &str {
        "large_export"
    }

    fn description(&self) -> &str {
        "Exports everything as one file."
    }

    fn parameters(&self) -> Value {
        json!({"type": "object", "properties": {}})
    }

    fn access(&self) -> Access {
        Access::Read
    }

    fn run<'a>(
        &'a self,
        context: &'a ToolContext<'a>,
        _arguments: Value,
    ) -> BoxFuture<'a, Result<ToolOutput, String>> {
        Box::pin(async move {
            (context.send_file)(Attachment {
                file_name: "everything.csv".into(),
                mime_type: "text/csv".into(),
                bytes: vec![b'x'; self.megabytes * 1024 * 1024],
                caption: None,
            });
            Ok(ToolOutput::new(json!({"sent": true})))
        })
    }
}
