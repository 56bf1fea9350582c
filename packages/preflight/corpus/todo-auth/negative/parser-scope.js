if (sourceCode.scopeManager === null) {
  /*
   * If the given source code object does not have a scope manager, analyze the scope.
   *
   * TODO: Remove this check when we stop exporting the SourceCode object.
   */
  sourceCode = new SourceCode({ text, ast, scopeManager: analyzeScope(ast) });
}
