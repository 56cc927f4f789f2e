package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"regexp"
	"slices"
	"strings"
)

// completionCommand prints a shell completion script: arbor completion
// bash|zsh. The script is made from the command table, each command's
// flags read from its own -h, so a new command or flag is completed
// without touching this file.
type completionCommand struct {
	stdout, stderr io.Writer
}

// completionShells are the shells completion writes scripts for.
var completionShells = map[string]func(io.Writer, []completionSpec) error{
	"bash": writeBashCompletion,
	"zsh":  writeZshCompletion,
}

const completionUsage = `Usage: arbor completion bash|zsh

Print a script completing arbor's commands and their flags in bash or zsh.

  bash: source <(arbor completion bash)      (in ~/.bashrc, say)
  zsh:  source <(arbor completion zsh)       (after compinit, in ~/.zshrc)
        or save it as _arbor in a directory of $fpath
`

// Run prints the script of the shell args names.
func (c *completionCommand) Run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("arbor completion", flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	fs.Usage = func() { fmt.Fprint(c.stderr, completionUsage) }
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	write, ok := completionShells[fs.Arg(0)]
	if fs.NArg() != 1 || !ok {
		fmt.Fprintf(c.stderr, "arbor completion takes one shell, bash or zsh, not %q\n\n", fs.Args())
		fs.Usage()
		return errUsage
	}
	if err := write(c.stdout, completionTable(ctx)); err != nil {
		fmt.Fprintln(c.stderr, "arbor:", err)
		return &exitError{code: 1, err: err}
	}
	return nil
}

// completionSpec is what a shell completes after arbor <name>.
type completionSpec struct {
	name  string
	flags []string // as typed: --url, -o
	// words are the words it takes first, subcommands or choices (keys:
	// add, list; completion: bash, zsh); subFlags the flags of those
	// that have their own.
	words    []string
	subFlags map[string][]string
}

var (
	// helpFlag is a flag as the flag package's PrintDefaults lists it.
	helpFlag = regexp.MustCompile(`(?m)^  -([A-Za-z0-9][A-Za-z0-9_.-]*)`)
	// helpWords are the lowercase words after "arbor <name>" at the start
	// of a usage line: "arbor keys add ...", "Usage: arbor completion bash|zsh".
	helpWords = `(?m)^\s*(?:Usage:\s*)?arbor %s ([a-z][a-z0-9-]*(?:\|[a-z][a-z0-9-]*)*)(?:\s|$)`
)

// completionTable reads the command table: each command's flags and
// first words from what it prints for -h.
func completionTable(ctx context.Context) []completionSpec {
	table := commands(io.Discard, io.Discard)
	specs := []completionSpec{{name: "help"}}
	for _, name := range slices.Sorted(maps.Keys(table)) {
		help := commandHelp(ctx, name)
		s := completionSpec{name: name, flags: helpFlags(help), subFlags: map[string][]string{}}
		re := regexp.MustCompile(fmt.Sprintf(helpWords, regexp.QuoteMeta(name)))
		for _, m := range re.FindAllStringSubmatch(help, -1) {
			for w := range strings.SplitSeq(m[1], "|") {
				if !slices.Contains(s.words, w) {
					s.words = append(s.words, w)
				}
			}
		}
		for _, w := range s.words {
			if f := helpFlags(commandHelp(ctx, name, w)); len(f) > 0 {
				s.subFlags[w] = f
			}
		}
		specs = append(specs, s)
	}
	slices.SortFunc(specs, func(a, b completionSpec) int { return strings.Compare(a.name, b.name) })
	return specs
}

// commandHelp is what arbor <args> -h prints, on either stream.
func commandHelp(ctx context.Context, args ...string) string {
	var out bytes.Buffer
	cmd := commands(&out, &out)[args[0]]
	_ = cmd.Run(ctx, append(args[1:len(args):len(args)], "-h"))
	return out.String()
}

// helpFlags are the flags a -h lists, sorted, as typed: --name, or -n for
// a one-letter name.
func helpFlags(help string) []string {
	var flags []string
	for _, m := range helpFlag.FindAllStringSubmatch(help, -1) {
		f := "--" + m[1]
		if len(m[1]) == 1 {
			f = "-" + m[1]
		}
		if !slices.Contains(flags, f) {
			flags = append(flags, f)
		}
	}
	slices.Sort(flags)
	return flags
}

// writeBashCompletion writes the bash script of specs.
func writeBashCompletion(w io.Writer, specs []completionSpec) error {
	var b strings.Builder
	b.WriteString(`# bash completion for arbor, made by arbor completion bash.
# Load it with: source <(arbor completion bash)
_arbor() {
    local cur=${COMP_WORDS[COMP_CWORD]}
    local cmd=${COMP_WORDS[1]} sub=
    ((COMP_CWORD > 2)) && sub=${COMP_WORDS[2]}
    if ((COMP_CWORD == 1)); then
        COMPREPLY=($(compgen -W "`)
	b.WriteString(strings.Join(specNames(specs), " "))
	b.WriteString(`" -- "$cur"))
        return
    fi
    local flags= words=
    case $cmd in
`)
	for _, s := range specs {
		if len(s.flags) == 0 && len(s.words) == 0 {
			continue
		}
		fmt.Fprintf(&b, "    %s)\n", s.name)
		if len(s.flags) > 0 {
			fmt.Fprintf(&b, "        flags=%q\n", strings.Join(s.flags, " "))
		}
		if len(s.words) > 0 {
			fmt.Fprintf(&b, "        words=%q\n", strings.Join(s.words, " "))
		}
		if len(s.subFlags) > 0 {
			b.WriteString("        case $sub in\n")
			for _, sub := range slices.Sorted(maps.Keys(s.subFlags)) {
				fmt.Fprintf(&b, "        %s) flags=%q ;;\n", sub, strings.Join(s.subFlags[sub], " "))
			}
			b.WriteString("        esac\n")
		}
		b.WriteString("        ;;\n")
	}
	b.WriteString(`    esac
    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$flags" -- "$cur"))
    elif [[ -n $words ]] && ((COMP_CWORD == 2)); then
        COMPREPLY=($(compgen -W "$words" -- "$cur"))
    fi
    # Nothing else to offer: readline completes file names (-o default).
}
complete -o default -F _arbor arbor
`)
	_, err := io.WriteString(w, b.String())
	return err
}

// writeZshCompletion writes the zsh script of specs.
func writeZshCompletion(w io.Writer, specs []completionSpec) error {
	var b strings.Builder
	b.WriteString(`#compdef arbor
# zsh completion for arbor, made by arbor completion zsh.
# Load it with: source <(arbor completion zsh) after compinit, or save it as
# _arbor in a directory of $fpath.
_arbor() {
    local -a flags choices
    if (( CURRENT == 2 )); then
        compadd -- `)
	b.WriteString(strings.Join(specNames(specs), " "))
	b.WriteString(`
        return
    fi
    case ${words[2]} in
`)
	for _, s := range specs {
		if len(s.flags) == 0 && len(s.words) == 0 {
			continue
		}
		fmt.Fprintf(&b, "    %s)\n", s.name)
		if len(s.flags) > 0 {
			fmt.Fprintf(&b, "        flags=(%s)\n", strings.Join(s.flags, " "))
		}
		if len(s.words) > 0 {
			fmt.Fprintf(&b, "        choices=(%s)\n", strings.Join(s.words, " "))
		}
		if len(s.subFlags) > 0 {
			b.WriteString("        case ${words[3]} in\n")
			for _, sub := range slices.Sorted(maps.Keys(s.subFlags)) {
				fmt.Fprintf(&b, "        %s) flags=(%s) ;;\n", sub, strings.Join(s.subFlags[sub], " "))
			}
			b.WriteString("        esac\n")
		}
		b.WriteString("        ;;\n")
	}
	b.WriteString(`    esac
    if [[ $PREFIX == -* ]]; then
        compadd -a flags
    elif (( CURRENT == 3 && ${#choices} )); then
        compadd -a choices
    else
        _files
    fi
}
if [[ $funcstack[1] == _arbor ]]; then
    _arbor "$@"
else
    compdef _arbor arbor
fi
`)
	_, err := io.WriteString(w, b.String())
	return err
}

// specNames are the names of specs.
func specNames(specs []completionSpec) []string {
	names := make([]string, len(specs))
	for i, s := range specs {
		names[i] = s.name
	}
	return names
}
