// Package hierarchy describes the hierarchies arbor is started with: named
// trees whose levels carry labels (ml_pipeline = experiment, model,
// predictions). Names and labels are subject tokens, so that subscribers can
// select events by them.
package hierarchy
