package main

import (
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestBoltTrainModelsScore runs train, models and score on the real bbolt
// store: two versions (two seeds), listing, switching, exporting, and the
// refusal to store the same version twice.
func TestBoltTrainModelsScore(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "lapse.db")
	mustRun(t, 0, sampleTrainArgs(db, filepath.Join(dir, "r1"))...)
	args := sampleTrainArgs(db, filepath.Join(dir, "r2"))
	for i, a := range args {
		if a == "--seed" {
			args[i+1] = "2"
		}
	}
	mustRun(t, 0, args...)

	r := mustRun(t, 0, "models", "--store", db)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[1], "*") || strings.HasPrefix(lines[2], "*") {
		t.Fatalf("models after two trainings (the second active):\n%s", r.stdout)
	}
	older := strings.Fields(lines[2])[0]
	mustRun(t, 0, "models", "--store", db, "--activate", older)
	r = mustRun(t, 0, "models", "--store", db)
	if !strings.Contains(r.stdout, "*  "+older) {
		t.Errorf("after activating %s:\n%s", older, r.stdout)
	}

	out := filepath.Join(dir, "scores.csv")
	mustRun(t, 0, "score", "--store", db, "--out", out)
	rows := readCSVFile(t, out)
	if !strings.Contains(lines[2], " "+strconv.Itoa(len(rows)-1)) {
		t.Errorf("score exported %d rows; models says:\n%s", len(rows)-1, lines[2])
	}

	r = mustRun(t, 1, sampleTrainArgs(db, filepath.Join(dir, "r3"))...)
	if !strings.Contains(r.stderr, "exists") {
		t.Errorf("training the same version again: %s", r.stderr)
	}
	if r := mustRun(t, 0, "models", "--store", db); !strings.Contains(r.stdout, "*  "+older) {
		t.Errorf("a refused save changed the active model:\n%s", r.stdout)
	}
}
