# Sourced by install-deps.sh and test.sh: what they leave of a git checkout
# must be what they found (clean on a fresh clone).

# The tree's state: `git status` (untracked files one by one) and a digest
# of the tracked changes, so a file that was modified already and is
# rewritten again still shows. Empty outside a git checkout.
tree_state() {
  if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    git status --porcelain=v1 --untracked-files=all
    git diff HEAD --binary | sha256sum
  fi
}

# Fails (exit 1, with the difference) when the tree's state is no longer
# $2, naming $1 as what changed it.
tree_unchanged() {
  local after
  after=$(tree_state)
  if [ "$after" != "$2" ]; then
    echo "error: $1 changed the git tree:" >&2
    diff <(echo "$2") <(echo "$after") >&2 || true
    git diff --stat HEAD >&2 || true
    exit 1
  fi
}
