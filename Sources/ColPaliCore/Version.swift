/// The version of colpali-pg (the tools' `--version`, the CHANGELOG's heading).
public enum ColPaliVersion {
    public static let string = "1.2.0"
}
