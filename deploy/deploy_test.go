// Package deploy_test checks the container wiring that these machines
// cannot run (no Docker engine): docker-compose.yml is loaded with
// compose-go as `docker compose` would, and the Dockerfiles are parsed with
// BuildKit's parser.
package deploy_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	dockerfile "github.com/moby/buildkit/frontend/dockerfile/parser"
)

// root is the repository root: this package lives in deploy/.
const root = ".."

func loadProject(t *testing.T) *types.Project {
	t.Helper()
	opts, err := cli.NewProjectOptions(
		[]string{filepath.Join(root, "docker-compose.yml")},
		cli.WithWorkingDirectory(root),
		cli.WithEnvFiles(filepath.Join(root, ".env.example")),
		cli.WithDotEnv,
		cli.WithName("authgw"),
	)
	if err != nil {
		t.Fatalf("compose options: %v", err)
	}
	p, err := opts.LoadProject(t.Context())
	if err != nil {
		t.Fatalf("loading docker-compose.yml: %v", err)
	}
	return p
}

func service(t *testing.T, p *types.Project, name string) types.ServiceConfig {
	t.Helper()
	s, err := p.GetService(name)
	if err != nil {
		t.Fatalf("service %s: %v", name, err)
	}
	return s
}

func env(s types.ServiceConfig, key string) string {
	if v, ok := s.Environment[key]; ok && v != nil {
		return *v
	}
	return ""
}

func TestComposeWiring(t *testing.T) {
	t.Parallel()
	p := loadProject(t)
	if got, want := p.ServiceNames(), []string{"authsvc", "gateway", "postgres"}; !slices.Equal(sorted(got), want) {
		t.Fatalf("services = %v, want %v", got, want)
	}

	pg := service(t, p, "postgres")
	if pg.Image != "postgres:15-alpine" {
		t.Errorf("postgres image = %q, want postgres:15-alpine", pg.Image)
	}
	if !slices.ContainsFunc(pg.Volumes, func(v types.ServiceVolumeConfig) bool {
		return v.Type == types.VolumeTypeVolume && v.Target == "/var/lib/postgresql/data"
	}) {
		t.Errorf("postgres keeps no named volume at /var/lib/postgresql/data: %+v", pg.Volumes)
	}
	if pg.HealthCheck == nil || !strings.Contains(strings.Join(pg.HealthCheck.Test, " "), "pg_isready") {
		t.Errorf("postgres healthcheck = %+v, want pg_isready", pg.HealthCheck)
	}

	auth := service(t, p, "authsvc")
	if d, ok := auth.DependsOn["postgres"]; !ok || d.Condition != types.ServiceConditionHealthy {
		t.Errorf("authsvc depends_on postgres = %+v, want condition service_healthy", auth.DependsOn)
	}
	if auth.Build == nil || auth.Build.Dockerfile != "authsvc/Dockerfile" {
		t.Errorf("authsvc build = %+v, want authsvc/Dockerfile from the root", auth.Build)
	}
	dbURL := env(auth, "AUTH_DATABASE_URL")
	if !strings.HasPrefix(dbURL, "postgres://") || !strings.Contains(dbURL, "@postgres:5432/") {
		t.Errorf("AUTH_DATABASE_URL = %q, want postgres://…@postgres:5432/…", dbURL)
	}
	if got := env(auth, "AUTH_SIGNING_KEY_FILE"); got != "/run/secrets/signing_key" ||
		!slices.ContainsFunc(auth.Secrets, func(s types.ServiceSecretConfig) bool { return s.Source == "signing_key" }) {
		t.Errorf("signing key: AUTH_SIGNING_KEY_FILE = %q, secrets %+v; want the signing_key secret", got, auth.Secrets)
	}
	if auth.HealthCheck == nil || !strings.Contains(strings.Join(auth.HealthCheck.Test, " "), "authsvc healthcheck") {
		t.Errorf("authsvc healthcheck = %+v, want the healthcheck subcommand", auth.HealthCheck)
	}

	gw := service(t, p, "gateway")
	if d, ok := gw.DependsOn["authsvc"]; !ok || d.Condition != types.ServiceConditionHealthy {
		t.Errorf("gateway depends_on authsvc = %+v, want condition service_healthy", gw.DependsOn)
	}
	if !slices.ContainsFunc(gw.Ports, func(pc types.ServicePortConfig) bool { return pc.Target == 8080 && pc.Published == "8080" }) {
		t.Errorf("gateway ports = %+v, want 8080 published", gw.Ports)
	}
	if got := env(gw, "GATEWAY_AUTH_UPSTREAM"); got != "http://authsvc:50051" {
		t.Errorf("GATEWAY_AUTH_UPSTREAM = %q, want http://authsvc:50051", got)
	}
	if gw.Build == nil || gw.Build.Dockerfile != "gateway/Dockerfile" {
		t.Errorf("gateway build = %+v, want gateway/Dockerfile from the root", gw.Build)
	}
}

// TestComposeEnvironmentIsRead checks that every variable compose sets is
// one the program reads, so a typo cannot silently fall back to a default.
func TestComposeEnvironmentIsRead(t *testing.T) {
	t.Parallel()
	p := loadProject(t)
	for _, name := range []string{"authsvc", "gateway"} {
		read := getenvNames(t, filepath.Join(root, name))
		if len(read) == 0 {
			t.Fatalf("found no getenv calls in %s", name)
		}
		for key := range service(t, p, name).Environment {
			if !read[key] {
				t.Errorf("%s: docker-compose.yml sets %s, which the program never reads", name, key)
			}
		}
	}
}

// getenvNames returns the string literals passed to getenv, os.Getenv or
// os.LookupEnv in the non-test Go files under dir.
func getenvNames(t *testing.T, dir string) map[string]bool {
	t.Helper()
	names := map[string]bool{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || len(call.Args) == 0 {
				return true
			}
			var fn string
			switch f := call.Fun.(type) {
			case *ast.Ident:
				fn = f.Name
			case *ast.SelectorExpr:
				fn = f.Sel.Name
			}
			if fn != "getenv" && fn != "Getenv" && fn != "LookupEnv" {
				return true
			}
			if lit, ok := call.Args[0].(*ast.BasicLit); ok && lit.Kind == token.STRING {
				if s, err := strconv.Unquote(lit.Value); err == nil {
					names[s] = true
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatalf("scanning %s: %v", dir, err)
	}
	return names
}

func TestEnvExampleHasNoSecretsAndIsUsed(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile(filepath.Join(root, ".env.example"))
	if err != nil {
		t.Fatal(err)
	}
	compose, err := os.ReadFile(filepath.Join(root, "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(string(raw), "\n") {
		key, value, ok := strings.Cut(line, "=")
		if !ok || strings.HasPrefix(line, "#") {
			continue
		}
		if !strings.Contains(string(compose), "${"+key) {
			t.Errorf(".env.example sets %s, which docker-compose.yml never uses", key)
		}
		if strings.Contains(key, "PASSWORD") && value != "change-me" {
			t.Errorf(".env.example %s = %q, want the placeholder change-me", key, value)
		}
	}
	ignore, err := os.ReadFile(filepath.Join(root, ".gitignore"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"/.env", "/secrets/"} {
		if !strings.Contains(string(ignore), want+"\n") {
			t.Errorf(".gitignore does not ignore %s", want)
		}
	}
}

type instruction struct {
	cmd  string // lower case: from, run, copy, user, …
	args string // the rest of the original line
}

func parseDockerfile(t *testing.T, path string) []instruction {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := dockerfile.Parse(f)
	if err != nil {
		t.Fatalf("parsing %s: %v", path, err)
	}
	var out []instruction
	for _, n := range res.AST.Children {
		_, args, _ := strings.Cut(n.Original, " ")
		out = append(out, instruction{cmd: strings.ToLower(n.Value), args: strings.TrimSpace(args)})
	}
	return out
}

var outputFlag = regexp.MustCompile(`-o \S+`)

// goBuild returns the go build command in s, with its output path
// normalized, or "".
func goBuild(s string) string {
	i := strings.Index(s, "go build ")
	if i < 0 {
		return ""
	}
	cmd := strings.TrimRight(s[i:], ")")
	return outputFlag.ReplaceAllString(strings.TrimSpace(cmd), "-o OUT")
}

func TestDockerfiles(t *testing.T) {
	t.Parallel()
	script, err := os.ReadFile(filepath.Join(root, "scripts", "build"))
	if err != nil {
		t.Fatal(err)
	}
	ciBuilds := map[string]string{}
	for line := range strings.SplitSeq(string(script), "\n") {
		if cmd := goBuild(line); cmd != "" {
			ciBuilds[strings.TrimPrefix(cmd[strings.LastIndex(cmd, " ")+1:], "./cmd/")] = cmd
		}
	}
	if !strings.Contains(string(script), "CGO_ENABLED=0") {
		t.Errorf("scripts/build does not build static binaries (CGO_ENABLED=0)")
	}
	for _, name := range []string{"authsvc", "gateway"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ins := parseDockerfile(t, filepath.Join(root, name, "Dockerfile"))
			lastFrom, download, firstSource, build := -1, -1, -1, ""
			static := false
			for i, in := range ins {
				switch in.cmd {
				case "from":
					lastFrom = i
				case "env":
					static = static || strings.Contains(in.args, "CGO_ENABLED=0")
				case "run":
					if strings.Contains(in.args, "go mod download") {
						download = i
					}
					if cmd := goBuild(in.args); cmd != "" {
						build = cmd
					}
				case "copy":
					if firstSource < 0 && strings.HasPrefix(in.args, name+"/ ") {
						firstSource = i
					}
				}
			}
			if !strings.Contains(ins[lastFrom].args, "distroless/static") {
				t.Errorf("final image %q, want a distroless static image", ins[lastFrom].args)
			}
			user := ""
			for _, in := range ins[lastFrom:] {
				if in.cmd == "user" {
					user = in.args
				}
			}
			if user == "" || strings.HasPrefix(user, "root") || strings.HasPrefix(user, "0") {
				t.Errorf("final stage USER = %q, want a non-root user", user)
			}
			if download < 0 || firstSource < 0 || download > firstSource {
				t.Errorf("go mod download at instruction %d, sources copied at %d: want the download in its own earlier layer", download, firstSource)
			}
			if !static {
				t.Errorf("the build stage does not set CGO_ENABLED=0")
			}
			if want := ciBuilds[name]; build == "" || build != want {
				t.Errorf("Dockerfile builds %q, CI (scripts/build) builds %q: want the same command", build, want)
			}
		})
	}
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}
