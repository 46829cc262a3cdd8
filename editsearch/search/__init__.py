"""Search: text, exemplar and edit-id queries, their ranking, inputs and specs, the weak-match cue, scoring."""
