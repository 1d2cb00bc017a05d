// The shared types (MultiVector, PromptFormat, ImageType) come with this
// module: an app importing it needs no second import.
@_exported import ColPaliCore
