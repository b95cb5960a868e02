# bash completion for qmpctl.  The candidates come from qmpctl itself
# (`qmpctl __complete -- WORDS...`), from its verb table and discovery, so
# they follow the installed version's verbs and options.
_qmpctl()
{
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}

	case $prev in
	-s | --socket | --libvirt-dir | --run-dir)
		mapfile -t COMPREPLY < <(compgen -f -- "$cur")
		return
		;;
	esac
	mapfile -t COMPREPLY < <("${COMP_WORDS[0]}" __complete -- "${COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null)
}
complete -o default -F _qmpctl qmpctl
