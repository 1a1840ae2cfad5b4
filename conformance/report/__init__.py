"""Results model and report writers: results.jsonl (the source of truth), run.json, junit.xml, summary."""
