# Print one value of a board.toml: awk -v sec=SECTION -v key=KEY -f toml.awk FILE
# (sec="" for top-level keys).  Enough TOML for board files: `key = value`
# lines with strings, integers (hex too) and booleans, `#` comments.
/^[ \t]*\[/ {
    cur = $0
    sub(/^[ \t]*\[[ \t]*/, "", cur)
    sub(/[ \t]*\].*$/, "", cur)
    next
}
cur == sec {
    line = $0
    if (line ~ /^[ \t]*"/ || line !~ /=/)
        next
    k = line
    sub(/[ \t]*=.*$/, "", k)
    sub(/^[ \t]+/, "", k)
    if (k != key)
        next
    v = line
    sub(/^[^=]*=[ \t]*/, "", v)
    if (v ~ /^"/) {
        sub(/^"/, "", v)
        sub(/".*$/, "", v)
    } else {
        sub(/[ \t]*#.*$/, "", v)
        sub(/[ \t]+$/, "", v)
    }
    print v
    exit
}
