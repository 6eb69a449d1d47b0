# shellcheck shell=bash
# Shared by the scripts that build test tools from Go modules (tools/build-renderers): where the cache
# is, how a cache key is made, and how a build lands in the cache so that a half-built folder is never
# taken for a finished one. Source it; it defines functions and changes no state.
#
# A tools module is a folder under tools/go with its own go.mod and go.sum (`tool` directives), so
# its dependency pins never mix with another tool's. Builds use the machine's Go as it is
# (GOTOOLCHAIN=local), no cgo, -trimpath, and -mod=mod so the committed go.sum is what is checked.

export GOFLAGS="-mod=mod${GOFLAGS:+ $GOFLAGS}" GOTOOLCHAIN=local CGO_ENABLED=0

# The cache root: GITOPS_PUSH_CACHE, else $XDG_CACHE_HOME or ~/.cache, /gitops-push (as settings.py).
go_tools_cache_root() {
    echo "${GITOPS_PUSH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/gitops-push}"
}

# The version of module $2 that the tools module in folder $1 pins.
go_tools_module_version() {
    (cd "$1" && go list -m -f '{{.Version}}' "$2")
}

# A short key over the Go version and the contents of the files named: any change to a pin, to the
# build script or to Go itself gives a new folder, so a stale binary is never reused.
go_tools_cache_key() {
    { go version; cat "$@"; } | sha256sum | cut -c1-16
}

# Runs `$2 FOLDER` to build into a fresh folder unless bin folder $1 is complete, then prints $1.
# The build goes to a folder of this process's own and is renamed into place once finished, so two
# runs at once (two test sessions) each see either nothing or a whole folder.
go_tools_cached_build() {
    local bin=$1 build=$2
    if [ ! -f "$bin/.complete" ]; then
        local partial="$bin.partial.$$" started=$SECONDS
        rm -rf "$partial"
        mkdir -p "$partial"
        "$build" "$partial"
        touch "$partial/.complete"
        if [ -f "$bin/.complete" ]; then
            rm -rf "$partial"  # another run finished first; its folder is as good as ours
        else
            rm -rf "$bin"
            mv -T "$partial" "$bin"
        fi
        printf '%s: built in %s s\n' "$(basename "$0")" "$((SECONDS - started))" >&2
    fi
    echo "$bin"
}
