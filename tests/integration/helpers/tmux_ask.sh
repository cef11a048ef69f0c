# tmux_ask.sh: answers a command's terminal question (the --fallback ask
# prompt of `dataline send` and `dataline call`) in a detached tmux
# session. Needs wait_for (helpers/handsets.sh or the test's own).
#   tmux_ask SESSION PROMPT KEY CMD  runs CMD (one shell string) on a
#     terminal, waits for PROMPT, types KEY + Enter, waits for the exit
#     and prints the pane, in which "EXIT=N" is CMD's exit status
tmux_ask() {
  local s=$1 prompt=$2 key=$3 cmd=$4
  tmux kill-session -t "$s" 2>/dev/null
  tmux new-session -d -s "$s" -x 200 -y 20 "$cmd; echo EXIT=\$?; sleep 30"
  wait_for 15 sh -c "tmux capture-pane -p -t $s | grep -q '$prompt'" || return 1
  tmux send-keys -t "$s" "$key" Enter
  wait_for 20 sh -c "tmux capture-pane -p -t $s | grep -q 'EXIT='"
  tmux capture-pane -p -t "$s"
}
