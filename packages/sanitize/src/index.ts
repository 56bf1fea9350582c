export type { Removal } from './attributes.ts';
export {
  CSS_PROPERTIES,
  FORBIDDEN_CSS_PROPERTIES,
  MAX_BORDER_PX,
  MAX_BOX_SIZE_PX,
  MAX_FONT_SIZE_PX,
  MAX_LINE_HEIGHT_FACTOR,
  MAX_NEGATIVE_SPACING_PX,
  MAX_OFFSET_PX,
  MAX_POSITIVE_SPACING_PX,
  MIN_FONT_SIZE_PX,
  MIN_TEXT_ALPHA,
} from './css-policy.ts';
export { SanitizeError, type SanitizeErrorCode } from './errors.ts';
export { FORBIDDEN_ATTRIBUTES, FORBIDDEN_ELEMENTS, isForbiddenAttribute } from './hard-rules.ts';
export { PRE_PARSE_DEPTH_LIMIT, PRE_PARSE_WORK_LIMIT } from './nesting-guard.ts';
export { ATTRIBUTE_RULES, type AttributeRule, type SanitizeLimits, type SanitizeOptions } from './policy.ts';
export { PRESETS, type Preset, type PresetName } from './presets.ts';
export {
  createSanitizer,
  MAX_REPORTED_REMOVALS,
  type PlainTextOptions,
  type SanitizeResult,
  type Sanitizer,
  sanitizeHtml,
  toPlainText,
} from './sanitizer.ts';
export { FORBIDDEN_SCHEMES, ID_PREFIX, type RewriteUrl, type UrlContext, type UrlKind } from './url-policy.ts';
