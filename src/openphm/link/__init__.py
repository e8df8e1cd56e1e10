"""Link: opt-outs applied, one pseudonymised person_id per person across every setting."""
