package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"strings"
)

// Exit codes of Run.
const (
	exitOK       = 0 // success
	exitError    = 1 // the command failed
	exitBadInput = 2 // usage error, or more bad input rows than --max-bad-rows allows
)

// Command is one `lapse` subcommand. A command lives in its own file and
// registers itself with one line:
//
//	func init() { register(trainCommand) }
//
// A command of a group has a two-word name, "experiment create": Run
// dispatches `lapse experiment create ...` to it, and `lapse experiment`
// alone lists the group.
type Command struct {
	// Name is the word after `lapse`, or the group and the command
	// separated by one space.
	Name string
	// Summary is one line for `lapse help`.
	Summary string
	// Synopsis is the usage line(s) without the leading "lapse ".
	Synopsis string
	// Description is an optional paragraph printed after the synopsis.
	Description string
	// Examples are complete command lines, each shown after a "$ ".
	Examples []string
	// Setup registers the command's flags on fs and returns the function that
	// runs the command once fs has been parsed. args are the positional
	// arguments left after the flags.
	Setup func(fs *flag.FlagSet) func(ctx context.Context, env *Env, args []string) error
}

// Env is what a running command may touch: the standard streams and the
// process's single logger.
type Env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	Log    *slog.Logger
}

// commands is the registry, filled by register from init functions.
var commands = map[string]*Command{}

// register adds c to the registry. It panics on a duplicate or empty name:
// that is a programmer error caught by any test run.
func register(c *Command) {
	if c.Name == "" || c.Setup == nil {
		panic("lapse: command without a name or Setup")
	}
	if _, dup := commands[c.Name]; dup {
		panic("lapse: command " + c.Name + " registered twice")
	}
	commands[c.Name] = c
}

// commandNames returns the registered command names in alphabetical order.
func commandNames() []string {
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// usageError marks an error as the user's misuse of the command line; Run
// prints the command's usage after it and exits with exitBadInput.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// usagef returns a usageError with a formatted message.
func usagef(format string, args ...any) error {
	return &usageError{fmt.Errorf(format, args...)}
}

// Run is the whole program: it dispatches args[0] to a command, parses its
// flags, builds the logger and runs it. It returns the process exit status:
// 0 on success, 1 when the command fails, 2 on a usage error or when the
// input has more bad rows than --max-bad-rows allows.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		writeOverview(stderr)
		return exitBadInput
	}
	name, rest := args[0], args[1:]
	switch name {
	case "help", "-h", "-help", "--help":
		return runHelp(rest, stdout, stderr)
	case "version", "-version", "--version":
		fmt.Fprintln(stdout, versionString())
		return exitOK
	}
	if _, ok := commands[name]; !ok && len(rest) > 0 {
		if _, ok := commands[name+" "+rest[0]]; ok {
			name, rest = name+" "+rest[0], rest[1:]
		}
	}
	cmd, ok := commands[name]
	if !ok {
		if isGroup(name) {
			if len(rest) > 0 && !strings.HasPrefix(rest[0], "-") {
				fmt.Fprintf(stderr, "lapse %s: unknown command %q\n\n", name, rest[0])
			}
			fmt.Fprint(stderr, groupOverview(name))
			return exitBadInput
		}
		fmt.Fprintf(stderr, "lapse: unknown command %q\n\n", name)
		writeOverview(stderr)
		return exitBadInput
	}
	fs := flag.NewFlagSet("lapse "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors and usage are printed below, once
	run := cmd.Setup(fs)
	logFormat, logLevel := addLogFlags(fs)
	if err := fs.Parse(rest); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			writeUsage(stdout, cmd)
			return exitOK
		}
		fmt.Fprintf(stderr, "lapse %s: %v\n\n", name, err)
		writeUsage(stderr, cmd)
		return exitBadInput
	}
	log, err := newLogger(stderr, *logFormat, *logLevel)
	if err != nil {
		fmt.Fprintf(stderr, "lapse %s: %v\n", name, err)
		return exitBadInput
	}
	env := &Env{Stdin: stdin, Stdout: stdout, Stderr: stderr, Log: log}
	err = run(ctx, env, fs.Args())
	return exitCode(err, name, cmd, stderr)
}

// exitCode prints err (if any) and maps it to an exit status.
func exitCode(err error, name string, cmd *Command, stderr io.Writer) int {
	if err == nil {
		return exitOK
	}
	var ue *usageError
	switch {
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "lapse %s: %v\n\n", name, err)
		writeUsage(stderr, cmd)
		return exitBadInput
	case isBadInput(err):
		fmt.Fprintf(stderr, "lapse %s: %v\n", name, err)
		return exitBadInput
	case errors.Is(err, context.Canceled):
		fmt.Fprintf(stderr, "lapse %s: interrupted\n", name)
		return exitError
	}
	fmt.Fprintf(stderr, "lapse %s: %v\n", name, err)
	return exitError
}

// addLogFlags registers the logging flags every command accepts.
func addLogFlags(fs *flag.FlagSet) (format, level *string) {
	format = fs.String("log-format", "text", "log format on stderr: `text` or json")
	level = fs.String("log-level", "info", "minimum log `level`: debug, info, warn or error")
	return format, level
}

// newLogger builds the process's logger on w.
func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", format)
}

func versionString() string {
	if commit == "" {
		return "lapse " + version
	}
	return "lapse " + version + " (" + commit + ")"
}

// isGroup reports whether name is the first word of a group's commands.
func isGroup(name string) bool {
	for n := range commands {
		if g, _, ok := strings.Cut(n, " "); ok && g == name {
			return true
		}
	}
	return false
}

// groupOverview lists the commands of a group.
func groupOverview(group string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Usage:\n  lapse %s <command> [flags]\n\nCommands:\n", group)
	var names []string
	width := 0
	for _, n := range commandNames() {
		if sub, ok := strings.CutPrefix(n, group+" "); ok {
			names = append(names, n)
			width = max(width, len(sub))
		}
	}
	for _, n := range names {
		fmt.Fprintf(&b, "  %-*s  %s\n", width, strings.TrimPrefix(n, group+" "), commands[n].Summary)
	}
	fmt.Fprintf(&b, "\nRun lapse help %s <command> for its flags and examples.\n", group)
	return b.String()
}

func runHelp(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		writeOverview(stdout)
		return exitOK
	}
	if len(args) > 1 {
		if _, ok := commands[args[0]+" "+args[1]]; ok {
			args = append([]string{args[0] + " " + args[1]}, args[2:]...)
		}
	}
	cmd, ok := commands[args[0]]
	if !ok && isGroup(args[0]) {
		fmt.Fprint(stdout, groupOverview(args[0]))
		return exitOK
	}
	if !ok {
		fmt.Fprintf(stderr, "lapse help: unknown command %q\n\n", args[0])
		writeOverview(stderr)
		return exitBadInput
	}
	writeUsage(stdout, cmd)
	return exitOK
}

// writeOverview prints the list of commands.
func writeOverview(w io.Writer) {
	fmt.Fprint(w, overview())
}

func overview() string {
	var b strings.Builder
	b.WriteString("lapse scores churn and purchase propensity from exported event histories.\n\n")
	b.WriteString("Usage:\n  lapse <command> [flags]\n\nCommands:\n")
	width := len("version")
	for _, n := range commandNames() {
		width = max(width, len(n))
	}
	for _, n := range commandNames() {
		fmt.Fprintf(&b, "  %-*s  %s\n", width, n, commands[n].Summary)
	}
	fmt.Fprintf(&b, "  %-*s  %s\n", width, "help", "show this list, or a command's flags and examples: lapse help <command>")
	fmt.Fprintf(&b, "  %-*s  %s\n", width, "version", "print the version")
	b.WriteString("\nEvery command accepts -h for its flags. Flags take one or two dashes.\n")
	return b.String()
}

// writeUsage prints a command's synopsis, description, flags with their
// defaults, and examples.
func writeUsage(w io.Writer, c *Command) {
	fmt.Fprint(w, usageText(c))
}

// flagGroups orders the flag sections of a usage text; a flag belongs to the
// first group that matches it, else to the command's own flags.
var flagGroups = []struct {
	title string
	match func(*flag.Flag) bool
}{
	{"Event input flags", isInputFlag},
	{"Logging flags", func(f *flag.Flag) bool { return f.Name == "log-format" || f.Name == "log-level" }},
}

func usageText(c *Command) string {
	fs := flag.NewFlagSet("lapse "+c.Name, flag.ContinueOnError)
	c.Setup(fs)
	addLogFlags(fs)

	var b strings.Builder
	fmt.Fprintf(&b, "Usage:\n  lapse %s\n\n%s\n", strings.ReplaceAll(c.Synopsis, "\n", "\n  "), c.Summary)
	if c.Description != "" {
		fmt.Fprintf(&b, "\n%s\n", strings.TrimSpace(c.Description))
	}
	sections := make([][]*flag.Flag, len(flagGroups)+1)
	fs.VisitAll(func(f *flag.Flag) {
		for i, g := range flagGroups {
			if g.match(f) {
				sections[i+1] = append(sections[i+1], f)
				return
			}
		}
		sections[0] = append(sections[0], f)
	})
	for i, sec := range sections {
		if len(sec) == 0 {
			continue
		}
		title := "Flags"
		if i > 0 {
			title = flagGroups[i-1].title
		}
		fmt.Fprintf(&b, "\n%s:\n", title)
		for _, f := range sec {
			writeFlag(&b, f)
		}
	}
	if len(c.Examples) > 0 {
		b.WriteString("\nExamples:\n")
		for _, ex := range c.Examples {
			fmt.Fprintf(&b, "  $ %s\n", ex)
		}
	}
	return b.String()
}

// writeFlag prints one flag as "  --name VALUE" and an indented description
// that ends with the default.
func writeFlag(b *strings.Builder, f *flag.Flag) {
	arg, usage := flag.UnquoteUsage(f)
	if _, isBool := f.Value.(interface{ IsBoolFlag() bool }); isBool {
		arg = ""
	}
	fmt.Fprintf(b, "  --%s", f.Name)
	if arg != "" {
		fmt.Fprintf(b, " %s", arg)
	}
	def := f.DefValue
	switch {
	case def == "" || def == "[]":
		def = "none"
	case strings.ContainsAny(def, " \t"):
		def = fmt.Sprintf("%q", def)
	}
	usage = strings.ReplaceAll(usage, "\n", "\n      ")
	if strings.Contains(usage, "(default") || strings.Contains(usage, "(required)") {
		fmt.Fprintf(b, "\n      %s\n", usage)
		return
	}
	fmt.Fprintf(b, "\n      %s (default %s)\n", usage, def)
}

// isTerminal reports whether w is a character device such as a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
