"""The query planner's pure cores: intents, history resolution, the deterministic (rules) planner,
the LLM planner's prompt, schema and validation, and `plan_turn`, which races the LLM against a
deadline and falls back to the rules. The stage adapter is pipeline/stages/plan.py; docs/planner.md
explains the design."""
