// The three patch shapes of issue #13 (the same as tests/reliability/edit_shapes.py): A replaces
// a line, B inserts one with a line of context, C appends a function after the last line.
'use strict';
const CALC = 'import os\n\n\ndef add(a, b):\n    return a - b\n\n\ndef scale(x):\n    return x * 2\n';

const SHAPES = {
    A: { task: 'Fix add() to add', line: 5,
        diff: '--- a/calc.py\n+++ b/calc.py\n@@ -4,2 +4,2 @@\n def add(a, b):\n-    return a - b\n+    return a + b\n',
        after: CALC.replace('a - b', 'a + b') },
    B: { task: 'Fix the missing import of sys', line: 1,
        diff: '--- a/calc.py\n+++ b/calc.py\n@@ -1,1 +1,2 @@\n import os\n+import sys\n',
        after: CALC.replace('import os\n', 'import os\nimport sys\n') },
    C: { task: 'Fix: add the missing sub()', line: 9,
        diff: '--- a/calc.py\n+++ b/calc.py\n@@ -9,1 +9,5 @@\n     return x * 2\n+\n+\n+def sub(a, b):\n+    return a - b\n',
        after: CALC + '\n\ndef sub(a, b):\n    return a - b\n' },
};

module.exports = { CALC, SHAPES };
