package main

import (
	"context"
	"flag"
	"fmt"
	"text/tabwriter"
)

func init() { register(modelsCommand) }

var modelsCommand = &Command{
	Name:     "models",
	Summary:  "list the stored model versions and switch the active one",
	Synopsis: "models --store lapse.db [--activate VERSION]",
	Description: `Lists every model version in the store, newest first: version, when it was
trained, the as-of date of its scores, the horizon, the out-of-time churn AUC,
the number of users scored, and * for the active version. --activate makes
another stored version the active one (serving and lapse score use it).`,
	Examples: []string{
		"lapse models --store lapse.db",
		"lapse models --store lapse.db --activate 2025-12-01-3fa2c9d1",
	},
	Setup: setupModels,
}

func setupModels(fs *flag.FlagSet) func(context.Context, *Env, []string) error {
	path := fs.String("store", "", "model store `file` (required)")
	activate := fs.String("activate", "", "make this model `version` the active one")
	return func(ctx context.Context, env *Env, args []string) error {
		if len(args) > 0 {
			return usagef("unexpected arguments %q", args)
		}
		if *path == "" {
			return usagef("--store is required")
		}
		st, err := openStore(*path)
		if err != nil {
			return err
		}
		defer st.Close()
		if *activate != "" {
			if err := st.Activate(ctx, *activate); err != nil {
				return fmt.Errorf("activate %s: %w", *activate, err)
			}
			env.Log.Info("activated model", "model_version", *activate)
		}
		list, err := st.ListModels(ctx)
		if err != nil {
			return err
		}
		if len(list) == 0 {
			fmt.Fprintln(env.Stdout, "no models stored yet: run lapse train")
			return nil
		}
		tw := tabwriter.NewWriter(env.Stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "\tVERSION\tCREATED\tAS OF\tHORIZON\tCHURN AUC (OOT)\tUSERS")
		for _, m := range list {
			mark := ""
			if m.Active {
				mark = "*"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%dd\t%.4f\t%d\n", mark, m.Version, m.Created.UTC().Format("2006-01-02 15:04:05Z"),
				m.AsOf.UTC().Format("2006-01-02"), m.HorizonDays, m.ChurnAUC, m.Users)
		}
		return tw.Flush()
	}
}
