// composecheck loads a docker compose file the way `docker compose config` does and prints the result.
//
// It uses compose-go v2, the library docker compose itself loads projects with: the .env files are read,
// ${VAR}, ${VAR:-default} and ${VAR:?error} are interpolated, the model is validated against the
// compose-spec JSON schema, normalised (ports, volumes, depends_on, names) and checked for consistency
// (undefined services, networks, volumes, secrets and configs; dependency cycles). No container engine is
// needed. On success it prints the normalised project as JSON on stdout and exits 0; on any error it prints
// the error on stderr and exits 1.
//
// -require-files also fails when a secret's or config's `file:` does not exist (docker compose fails so at
// `up`, not at `config`).
//
// Usage: composecheck [-env-file F]... [-no-os-env] [-project-name N] [-require-files] -f compose.yaml [-f more.yaml]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
)

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

func main() {
	var files, envFiles listFlag
	flag.Var(&files, "f", "compose file (repeatable; later files override earlier ones)")
	flag.Var(&envFiles, "env-file", "environment file (repeatable; default: .env beside the first compose file)")
	noOsEnv := flag.Bool("no-os-env", false, "do not take variables from this process's environment")
	projectName := flag.String("project-name", "", "project name (default: the file's `name:` or its directory)")
	requireFiles := flag.Bool("require-files", false, "fail when a secret's or config's file does not exist")
	version := flag.Bool("version", false, "print the compose-go version this was built with and exit")
	flag.Parse()
	if *version {
		fmt.Println(composeGoVersion)
		return
	}
	if len(files) == 0 || flag.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "usage: composecheck [-env-file F]... [-no-os-env] [-project-name N] [-require-files] -f compose.yaml")
		os.Exit(2)
	}
	if err := run(files, envFiles, *noOsEnv, *projectName, *requireFiles); err != nil {
		fmt.Fprintln(os.Stderr, "composecheck:", err)
		os.Exit(1)
	}
}

func run(files, envFiles []string, noOsEnv bool, projectName string, requireFiles bool) error {
	workDir, err := filepath.Abs(filepath.Dir(files[0]))
	if err != nil {
		return err
	}
	opts := []cli.ProjectOptionsFn{cli.WithWorkingDirectory(workDir)}
	if !noOsEnv {
		opts = append(opts, cli.WithOsEnv)
	}
	opts = append(opts, cli.WithEnvFiles(envFiles...), cli.WithDotEnv, cli.WithResolvedPaths(true))
	if projectName != "" {
		opts = append(opts, cli.WithName(projectName))
	}
	options, err := cli.NewProjectOptions(files, opts...)
	if err != nil {
		return err
	}
	project, err := options.LoadProject(context.Background())
	if err != nil {
		return err
	}
	if err := project.CheckContainerNameUnicity(); err != nil {
		return err
	}
	if requireFiles {
		if err := checkFiles(project); err != nil {
			return err
		}
	}
	out, err := project.MarshalJSON()
	if err != nil {
		return err
	}
	_, err = os.Stdout.Write(append(out, '\n'))
	return err
}

func checkFiles(project *types.Project) error {
	var missing []string
	check := func(kind, name, file string) {
		if file == "" {
			return
		}
		if _, err := os.Stat(file); err != nil {
			missing = append(missing, fmt.Sprintf("%s %q: %s", kind, name, file))
		}
	}
	for name, s := range project.Secrets {
		if !s.External {
			check("secret", name, s.File)
		}
	}
	for name, c := range project.Configs {
		if !c.External {
			check("config", name, c.File)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return errors.New("missing files:\n  " + strings.Join(missing, "\n  "))
	}
	return nil
}
