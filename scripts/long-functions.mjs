#!/usr/bin/env node
// Lists the functions and methods in src/ longer than N lines (default 80), longest first:
// node scripts/long-functions.mjs [N]. Counts from the declaration to its closing brace, nested
// functions included; the measure behind issue 12 ("split the functions over ~80 lines").
import ts from "typescript";
import { readFileSync } from "node:fs";
import { execSync } from "node:child_process";
const limit = Number(process.argv[2] ?? 80);
const files = execSync("git ls-files 'src/*.ts'", { encoding: "utf8" }).split("\n").filter(Boolean);
const rows = [];
for (const file of files) {
  const text = readFileSync(file, "utf8");
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const visit = (node) => {
    if (ts.isFunctionDeclaration(node) || ts.isMethodDeclaration(node) || ts.isArrowFunction(node) || ts.isFunctionExpression(node) || ts.isConstructorDeclaration(node) || ts.isGetAccessor(node)) {
      if (node.body) {
        const start = sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1;
        const end = sf.getLineAndCharacterOfPosition(node.end).line + 1;
        const len = end - start + 1;
        if (len > limit) {
          let name = node.name?.getText(sf);
          if (!name && node.parent && ts.isVariableDeclaration(node.parent)) name = node.parent.name.getText(sf);
          if (!name && node.parent && ts.isPropertyAssignment(node.parent)) name = node.parent.name.getText(sf);
          if (!name && ts.isConstructorDeclaration(node)) name = "constructor";
          const cls = ts.isClassLike(node.parent) && node.parent.name ? node.parent.name.getText(sf) + "." : "";
          rows.push([len, `${file}:${start}`, cls + (name ?? "(anonymous)")]);
        }
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
}
rows.sort((a, b) => b[0] - a[0]);
for (const r of rows) console.log(r.join("\t"));
console.log(`${rows.length} functions over ${limit} lines`);
