package dryrun

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"

	"github.com/caddy-webhooks/caddy-webhooks/rules"
)

func init() {
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "webhooks",
		Usage: "<command>",
		Short: "Tools for caddy-webhooks rules (test: a dry run on recorded traffic)",
		Long: `
Tools for the rules of caddy-webhooks.

  test  replays recorded traffic (a HAR file, or Caddy's JSON access log)
        through rule files and prints the events that would fire.`,
		CobraFunc: func(cmd *cobra.Command) {
			cmd.Args = cobra.ArbitraryArgs
			cmd.RunE = func(cmd *cobra.Command, args []string) error {
				if len(args) > 0 {
					return fmt.Errorf("unknown command %q for %q: the subcommand is test", args[0], cmd.CommandPath())
				}
				return cmd.Help()
			}
			cmd.AddCommand(testCommand())
		},
	})
}

// testCommand is `caddy webhooks test`.
func testCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "test --rules <file> (--har <file> | --log <file>) [--json-summary] [--max-body <bytes>]",
		Short: "Replays recorded traffic through rules and prints the events that would fire",
		Long: `
Replays the exchanges of a recording, in order, through the rules, as the
webhooks handler would (state included, kept in memory for the run), and
prints the events that would fire, one JSON object per line on stdout:

  {"event", "data", "user_id", "site", "shadow", "request": "METHOD /path", "status", "index"}

(index: the HAR entry's index in log.entries, from 0, or the access log's
line number). Then a summary per rule goes to stderr: what it matched,
fired and skipped, with the skip reasons; --json-summary writes it as JSON.

The recording is a HAR 1.2 file (--har; a browser's or a proxy's export)
or Caddy's access log in its json format (--log); "-" reads stdin. Access
logs hold no bodies: rules that read one are skipped. A prefetch is
answered from the recording: the latest earlier 2xx GET of its path.
Nothing is stored or sent.

The exit status is 0 when the replay ran, skips included; 1 for a bad rule
file, an unreadable or malformed recording, or bad flags.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := configFromFlags(cmd)
			if err != nil {
				return err
			}
			return cfg.Run(cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	fl := cmd.Flags()
	fl.StringArray("rules", nil, "a rule file (YAML); repeat for several")
	fl.String("har", "", "the recording: a HAR 1.2 file (- for stdin)")
	fl.String("log", "", "the recording: Caddy's JSON access log (- for stdin)")
	fl.Bool("json-summary", false, "write the summary on stderr as JSON")
	fl.Int64("max-body", DefaultMaxBody, "the handler's max_body: larger bodies are skipped as the handler skips them")
	return cmd
}

// Config is what `caddy webhooks test` runs.
type Config struct {
	RuleFiles   []string
	HAR, Log    string // one of them: the recording's file, "-" for stdin
	JSONSummary bool
	MaxBody     int64
	Stdin       io.Reader // for "-"; nil means os.Stdin
}

func configFromFlags(cmd *cobra.Command) (Config, error) {
	fl := cmd.Flags()
	var cfg Config
	var errs []error
	get := func(err error) {
		errs = append(errs, err)
	}
	var err error
	cfg.RuleFiles, err = fl.GetStringArray("rules")
	get(err)
	cfg.HAR, err = fl.GetString("har")
	get(err)
	cfg.Log, err = fl.GetString("log")
	get(err)
	cfg.JSONSummary, err = fl.GetBool("json-summary")
	get(err)
	cfg.MaxBody, err = fl.GetInt64("max-body")
	get(err)
	cfg.Stdin = cmd.InOrStdin()
	return cfg, errors.Join(errs...)
}

// check refuses flags that do not make a run.
func (cfg *Config) check() error {
	switch {
	case len(cfg.RuleFiles) == 0:
		return errors.New("--rules is required: the rule file(s) to test")
	case cfg.HAR == "" && cfg.Log == "":
		return errors.New("a recording is required: --har <file> or --log <file>")
	case cfg.HAR != "" && cfg.Log != "":
		return errors.New("give one recording: --har or --log, not both")
	case cfg.MaxBody <= 0:
		return fmt.Errorf("--max-body must be positive, got %d", cfg.MaxBody)
	}
	return nil
}

// Run loads the rules and the recording, replays it, and writes the events
// to stdout and the summary to stderr. An error is a run that could not
// be made (flags, rules, recording); skipped events are not errors.
func (cfg Config) Run(stdout, stderr io.Writer) error {
	if err := cfg.check(); err != nil {
		return err
	}
	set, err := LoadRules(cfg.RuleFiles)
	if err != nil {
		return err
	}
	xs, err := cfg.readRecording()
	if err != nil {
		return err
	}
	res := Replay(set, xs, Options{MaxBody: cfg.MaxBody})
	if err := writeEvents(stdout, res.Events); err != nil {
		return fmt.Errorf("writing the events: %w", err)
	}
	if cfg.JSONSummary {
		return res.Summary.WriteJSON(stderr)
	}
	return res.Summary.WriteText(stderr)
}

// LoadRules reads, parses and compiles rule files as the handler does;
// errors read "file:line: what".
func LoadRules(files []string) (*rules.Set, error) {
	var specs []rules.Spec
	for _, name := range files {
		src, err := os.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("rules: %w", err)
		}
		parsed, err := rules.Parse(name, src)
		if err != nil {
			return nil, err
		}
		specs = append(specs, parsed...)
	}
	if len(specs) == 0 {
		return nil, errors.New("no rules: the rule files hold no events")
	}
	return rules.Compile(specs)
}

// readRecording reads the exchanges of the HAR file or the access log.
func (cfg Config) readRecording() ([]Exchange, error) {
	name, read := cfg.HAR, ReadHAR
	if cfg.Log != "" {
		name, read = cfg.Log, ReadAccessLog
	}
	var r io.Reader
	if name == "-" {
		name, r = "stdin", cfg.Stdin
		if r == nil {
			r = os.Stdin
		}
	} else {
		f, err := os.Open(name)
		if err != nil {
			return nil, fmt.Errorf("reading the recording: %w", err)
		}
		defer f.Close()
		r = f
	}
	xs, err := read(r)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return xs, nil
}

// writeEvents writes one JSON object per line, as they would be stored
// (no HTML escaping: the data is the app's).
func writeEvents(w io.Writer, events []Event) error {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	for i := range events {
		if err := enc.Encode(&events[i]); err != nil {
			return err
		}
	}
	return bw.Flush()
}
