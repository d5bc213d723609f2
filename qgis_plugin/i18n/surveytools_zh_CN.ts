<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="zh_CN" sourcelanguage="en">
<context>
    <name>SurveyTools</name>
    <message>
        <source>SurveyTools (digital urban management)</source>
        <translation>数字城管基础数据 SurveyTools</translation>
    </message>
    <message>
        <source>SurveyTools {version}: base data for digital urban management</source>
        <translation>SurveyTools {version}：数字化城管基础数据工具</translation>
    </message>
    <message>
        <source>&amp;SurveyTools</source>
        <translation>数字城管 SurveyTools(&amp;S)</translation>
    </message>
    <message>
        <source>Show SurveyTools in the Processing Toolbox</source>
        <translation>在处理工具箱中显示 SurveyTools 工具</translation>
    </message>
    <message>
        <source>Enable the Processing plugin to use the SurveyTools tools.</source>
        <translation>请启用“处理”（Processing）插件以使用 SurveyTools 工具。</translation>
    </message>
    <message>
        <source>Some tools could not be loaded ({modules}); see the message log.</source>
        <translation>部分工具无法加载（{modules}），详情见日志消息面板。</translation>
    </message>
    <message>
        <source>Could not load the operations in {module}: {message}</source>
        <translation>无法加载 {module} 中的操作：{message}</translation>
    </message>
    <message>
        <source>SurveyTools could not be loaded: {error}. See the message log for details.</source>
        <translation>SurveyTools 无法加载：{error}。详情见日志消息面板。</translation>
    </message>
</context>
</TS>
