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
    <message>
        <source> (filled automatically)</source>
        <translation>（自动填写）</translation>
    </message>
    <message>
        <source>(major class)</source>
        <translation>（大类）</translation>
    </message>
    <message>
        <source>(minor class)</source>
        <translation>（小类）</translation>
    </message>
    <message>
        <source>6-digit county code, e.g. 360681</source>
        <translation>6 位县级行政区划代码，如 360681</translation>
    </message>
    <message>
        <source>Accepted, fixed or ignored</source>
        <translation>已接受、已修正或仅报告</translation>
    </message>
    <message>
        <source>All Python dependencies are installed ({python}).</source>
        <translation>Python 依赖已全部安装（{python}）。</translation>
    </message>
    <message>
        <source>All layers</source>
        <translation>全部图层</translation>
    </message>
    <message>
        <source>All rules</source>
        <translation>全部规则</translation>
    </message>
    <message>
        <source>All severities</source>
        <translation>全部严重程度</translation>
    </message>
    <message>
        <source>All statuses</source>
        <translation>全部状态</translation>
    </message>
    <message>
        <source>Assign departments</source>
        <translation>分配责任单位</translation>
    </message>
    <message>
        <source>CRS</source>
        <translation>坐标系</translation>
    </message>
    <message>
        <source>Check Python dependencies</source>
        <translation>检查 Python 依赖</translation>
    </message>
    <message>
        <source>Check dependencies</source>
        <translation>检查依赖</translation>
    </message>
    <message>
        <source>Choose a PostgreSQL connection and a schema.</source>
        <translation>请选择 PostgreSQL 连接和模式（schema）。</translation>
    </message>
    <message>
        <source>Choose a rule (a row or the rule filter) and a layer.</source>
        <translation>请选择一条规则（选中一行或用规则筛选）和一个图层。</translation>
    </message>
    <message>
        <source>Code unit grids</source>
        <translation>单元网格编码</translation>
    </message>
    <message>
        <source>Command manual</source>
        <translation>指挥手册</translation>
    </message>
    <message>
        <source>Acceptance</source>
        <translation>验收</translation>
    </message>
    <message>
        <source>Sampling plan</source>
        <translation>抽样方案</translation>
    </message>
    <message>
        <source>Record checks</source>
        <translation>导入检查记录</translation>
    </message>
    <message>
        <source>Acceptance report</source>
        <translation>验收报告</translation>
    </message>
    <message>
        <source>Component class (major → minor)</source>
        <translation>部件类别（大类 → 小类）</translation>
    </message>
    <message>
        <source>Component intake</source>
        <translation>部件入库</translation>
    </message>
    <message>
        <source>Components and events</source>
        <translation>部件和事件</translation>
    </message>
    <message>
        <source>Could not save {layers}; the step was not run.</source>
        <translation>无法保存 {layers}，未运行该步骤。</translation>
    </message>
    <message>
        <source>County</source>
        <translation>县（区）</translation>
    </message>
    <message>
        <source>County default (CGCS2000 3-degree zone)</source>
        <translation>按县默认（CGCS2000 3 度带）</translation>
    </message>
    <message>
        <source>Dependencies installed into {folder}.</source>
        <translation>依赖已安装到 {folder}。</translation>
    </message>
    <message>
        <source>Dictionaries</source>
        <translation>字典表</translation>
    </message>
    <message>
        <source>Divide unit grids</source>
        <translation>单元网格划分</translation>
    </message>
    <message>
        <source>Errors (lines)</source>
        <translation>错误（线）</translation>
    </message>
    <message>
        <source>Errors (points)</source>
        <translation>错误（点）</translation>
    </message>
    <message>
        <source>Errors (polygons)</source>
        <translation>错误（面）</translation>
    </message>
    <message>
        <source>Export database</source>
        <translation>导出数据库</translation>
    </message>
    <message>
        <source>False positive</source>
        <translation>误报</translation>
    </message>
    <message>
        <source>Feature</source>
        <translation>要素</translation>
    </message>
    <message>
        <source>Field</source>
        <translation>字段</translation>
    </message>
    <message>
        <source>Geocoding</source>
        <translation>地理编码</translation>
    </message>
    <message>
        <source>Grids</source>
        <translation>网格</translation>
    </message>
    <message>
        <source>Install</source>
        <translation>安装</translation>
    </message>
    <message>
        <source>Installing the dependencies failed; see the message log (SurveyTools).</source>
        <translation>安装依赖失败，详情见日志消息面板（SurveyTools）。</translation>
    </message>
    <message>
        <source>Layer</source>
        <translation>图层</translation>
    </message>
    <message>
        <source>Major and minor class drop-downs from the project's profile.</source>
        <translation>按项目的标准配置提供大类、小类下拉列表。</translation>
    </message>
    <message>
        <source>Major class</source>
        <translation>大类</translation>
    </message>
    <message>
        <source>Mark fixed</source>
        <translation>标记已修正</translation>
    </message>
    <message>
        <source>Message</source>
        <translation>说明</translation>
    </message>
    <message>
        <source>Minor class</source>
        <translation>小类</translation>
    </message>
    <message>
        <source>Missing Python packages for SurveyTools: {names}. Install them into {folder}?</source>
        <translation>SurveyTools 缺少 Python 包：{names}。是否安装到 {folder}？</translation>
    </message>
    <message>
        <source>New PostGIS project…</source>
        <translation>新建 PostGIS 项目库…</translation>
    </message>
    <message>
        <source>Create a survey project in this schema of the chosen connection</source>
        <translation>在所选连接的这个模式中新建调查项目库</translation>
    </message>
    <message>
        <source>No PostgreSQL connection named {name}.</source>
        <translation>找不到名为 {name} 的 PostgreSQL 连接。</translation>
    </message>
    <message>
        <source>New project…</source>
        <translation>新建项目…</translation>
    </message>
    <message>
        <source>No project open</source>
        <translation>未打开项目</translation>
    </message>
    <message>
        <source>Open GeoPackage…</source>
        <translation>打开 GeoPackage…</translation>
    </message>
    <message>
        <source>Open PostGIS</source>
        <translation>打开 PostGIS</translation>
    </message>
    <message>
        <source>Open a GeoPackage project first.</source>
        <translation>请先打开一个 GeoPackage 项目库。</translation>
    </message>
    <message>
        <source>Open error</source>
        <translation>未处理的错误</translation>
    </message>
    <message>
        <source>Open form</source>
        <translation>打开表单</translation>
    </message>
    <message>
        <source>Open survey project</source>
        <translation>打开调查项目库</translation>
    </message>
    <message>
        <source>Open warning</source>
        <translation>未处理的警告</translation>
    </message>
    <message>
        <source>Opened {path}: {count} layers</source>
        <translation>已打开 {path}：{count} 个图层</translation>
    </message>
    <message>
        <source>Open project</source>
        <translation>打开项目</translation>
    </message>
    <message>
        <source>Close the current QGIS project and open the survey project?</source>
        <translation>关闭当前的 QGIS 项目并打开调查项目？</translation>
    </message>
    <message>
        <source>Could not open {path}</source>
        <translation>无法打开 {path}</translation>
    </message>
    <message>
        <source>Profile</source>
        <translation>标准配置</translation>
    </message>
    <message>
        <source>Profile {profile}, county {county}, CRS {crs}</source>
        <translation>标准配置 {profile}，县 {county}，坐标系 {crs}</translation>
    </message>
    <message>
        <source>Project panel</source>
        <translation>项目面板</translation>
    </message>
    <message>
        <source>Re-run rule on current layer</source>
        <translation>对当前图层重新运行规则</translation>
    </message>
    <message>
        <source>Refresh</source>
        <translation>刷新</translation>
    </message>
    <message>
        <source>Reload layers</source>
        <translation>重新加载图层</translation>
    </message>
    <message>
        <source>Rule</source>
        <translation>规则</translation>
    </message>
    <message>
        <source>Rule {rule} on {layer}: {count} rows</source>
        <translation>规则 {rule}（图层 {layer}）：{count} 条</translation>
    </message>
    <message>
        <source>Save edits</source>
        <translation>保存编辑</translation>
    </message>
    <message>
        <source>Save the edits of the project's layers before running the step?</source>
        <translation>运行该步骤前保存项目图层的编辑吗？</translation>
    </message>
    <message>
        <source>Saved PostgreSQL connections of QGIS</source>
        <translation>QGIS 中保存的 PostgreSQL 连接</translation>
    </message>
    <message>
        <source>Severity</source>
        <translation>严重程度</translation>
    </message>
    <message>
        <source>Status</source>
        <translation>状态</translation>
    </message>
    <message>
        <source>Steps</source>
        <translation>作业步骤</translation>
    </message>
    <message>
        <source>Survey project</source>
        <translation>调查项目库</translation>
    </message>
    <message>
        <source>SurveyTools project</source>
        <translation>SurveyTools 项目</translation>
    </message>
    <message>
        <source>SurveyTools validation results</source>
        <translation>SurveyTools 质检结果</translation>
    </message>
    <message>
        <source>SurveyTools: accept a false positive</source>
        <translation>SurveyTools：接受误报</translation>
    </message>
    <message>
        <source>SurveyTools: check Python dependencies</source>
        <translation>SurveyTools：检查 Python 依赖</translation>
    </message>
    <message>
        <source>SurveyTools: install Python dependencies</source>
        <translation>SurveyTools：安装 Python 依赖</translation>
    </message>
    <message>
        <source>SurveyTools: re-run a rule</source>
        <translation>SurveyTools：重新运行规则</translation>
    </message>
    <message>
        <source>The feature of this row is not in the project any more.</source>
        <translation>该行对应的要素已不在项目库中。</translation>
    </message>
    <message>
        <source>Validate</source>
        <translation>质检</translation>
    </message>
    <message>
        <source>Validation errors</source>
        <translation>质检错误</translation>
    </message>
    <message>
        <source>Validation results</source>
        <translation>质检结果</translation>
    </message>
    <message>
        <source>Zoom</source>
        <translation>缩放至</translation>
    </message>
    <message>
        <source>other / no class</source>
        <translation>其他 / 无类别</translation>
    </message>
    <message>
        <source>schema</source>
        <translation>模式（schema）</translation>
    </message>
    <message>
        <source>{shown} of {total} rows</source>
        <translation>显示 {shown} 条，共 {total} 条</translation>
    </message>
    <message>
        <source>Error</source>
        <translation>错误</translation>
    </message>
    <message>
        <source>Warning</source>
        <translation>警告</translation>
    </message>
    <message>
        <source>Open</source>
        <translation>未处理</translation>
    </message>
    <message>
        <source>Accepted (false positive)</source>
        <translation>已接受（误报）</translation>
    </message>
    <message>
        <source>Fixed</source>
        <translation>已修复</translation>
    </message>
    <message>
        <source>Reported only</source>
        <translation>仅报告</translation>
    </message>
    <message>
        <source>Value</source>
        <translation>值</translation>
    </message>
    <message>
        <source>Why is this not an error? (stored with the acceptance)</source>
        <translation>为什么这不是错误？（理由与接受记录一起保存）</translation>
    </message>
    <message>
        <source>A false positive needs a reason.</source>
        <translation>接受误报必须填写理由。</translation>
    </message>
    <message>
        <source>Choose a file</source>
        <translation>选择文件</translation>
    </message>
    <message>
        <source>Class</source>
        <translation>类别</translation>
    </message>
    <message>
        <source>Classes</source>
        <translation>类别</translation>
    </message>
    <message>
        <source>Column</source>
        <translation>列</translation>
    </message>
    <message>
        <source>Do not import</source>
        <translation>不导入（skip）</translation>
    </message>
    <message>
        <source>Everything is mapped.</source>
        <translation>已全部对应。</translation>
    </message>
    <message>
        <source>Field and class mapping</source>
        <translation>字段与类别对照</translation>
    </message>
    <message>
        <source>Fields</source>
        <translation>字段</translation>
    </message>
    <message>
        <source>How it matched</source>
        <translation>对应依据</translation>
    </message>
    <message>
        <source>PostgreSQL connection {name}: {url}</source>
        <translation>PostgreSQL 连接 {name}：{url}</translation>
    </message>
    <message>
        <source>Profile field</source>
        <translation>标准字段</translation>
    </message>
    <message>
        <source>Records</source>
        <translation>条数</translation>
    </message>
    <message>
        <source>Save the mapping</source>
        <translation>保存对照表</translation>
    </message>
    <message>
        <source>Show only unmapped rows</source>
        <translation>只显示未对应的行</translation>
    </message>
    <message>
        <source>Source field</source>
        <translation>源字段</translation>
    </message>
    <message>
        <source>Source value</source>
        <translation>源类别值</translation>
    </message>
    <message>
        <source>Survey data</source>
        <translation>普查数据</translation>
    </message>
    <message>
        <source>unmapped</source>
        <translation>未对应</translation>
    </message>
    <message>
        <source>{count} rows are still unmapped; intake stops until they are mapped or skipped. Save anyway?</source>
        <translation>还有 {count} 行未对应；在全部对应或设为不导入之前，入库会停止。仍要保存吗？</translation>
    </message>
    <message>
        <source>{count} unmapped</source>
        <translation>{count} 项未对应</translation>
    </message>
    <message>
        <source>suggestion</source>
        <translation>建议</translation>
    </message>
    <message>
        <source>SurveyTools needs Python packages in {python}: {problems}. Install them into {folder}?</source>
        <translation>SurveyTools 在 {python} 中需要的 Python 包：{problems}。是否安装到 {folder}？</translation>
    </message>
    <message>
        <source>Installing the Python dependencies</source>
        <translation>正在安装 Python 依赖</translation>
    </message>
    <message>
        <source>Cancel</source>
        <translation>取消</translation>
    </message>
    <message>
        <source>Installation cancelled; nothing was changed.</source>
        <translation>安装已取消，未做任何更改。</translation>
    </message>
    <message>
        <source>Field package (QField)</source>
        <translation>外业包（QField）</translation>
    </message>
    <message>
        <source>Field return</source>
        <translation>外业回收</translation>
    </message>
    <message>
        <source>Validation</source>
        <translation>质检结果</translation>
    </message>
    <message>
        <source>Field conflicts</source>
        <translation>外业冲突</translation>
    </message>
    <message>
        <source>No.</source>
        <translation>编号</translation>
    </message>
    <message>
        <source>Component</source>
        <translation>部件</translation>
    </message>
    <message>
        <source>Kind</source>
        <translation>类型</translation>
    </message>
    <message>
        <source>Surveyor</source>
        <translation>调查员</translation>
    </message>
    <message>
        <source>Changed in the field and in the project</source>
        <translation>外业和项目都修改了</translation>
    </message>
    <message>
        <source>Deleted in the field, changed in the project</source>
        <translation>外业删除、项目修改了</translation>
    </message>
    <message>
        <source>Changed in the field, gone from the project</source>
        <translation>外业修改、项目中已没有</translation>
    </message>
    <message>
        <source>Several components hold this ID</source>
        <translation>标识码重号</translation>
    </message>
    <message>
        <source>Resolved</source>
        <translation>已处理</translation>
    </message>
    <message>
        <source>field</source>
        <translation>外业</translation>
    </message>
    <message>
        <source>project</source>
        <translation>项目</translation>
    </message>
    <message>
        <source>Keep project</source>
        <translation>保留项目版本</translation>
    </message>
    <message>
        <source>Take field</source>
        <translation>采用外业版本</translation>
    </message>
    <message>
        <source>Keep the project's version; the field's change is dropped</source>
        <translation>保留项目中的版本，不采用外业修改</translation>
    </message>
    <message>
        <source>Apply the field's version to the project component</source>
        <translation>把外业版本写入项目中的部件</translation>
    </message>
    <message>
        <source>{open} open of {total} field conflicts</source>
        <translation>外业冲突 {total} 个，待处理 {open} 个</translation>
    </message>
    <message>
        <source>This conflict has no geometry to zoom to.</source>
        <translation>这个冲突没有可缩放到的几何。</translation>
    </message>
    <message>
        <source>This conflict is already resolved.</source>
        <translation>这个冲突已处理。</translation>
    </message>
    <message>
        <source>Conflict {n} resolved: {how}</source>
        <translation>冲突 {n} 已处理：{how}</translation>
    </message>
    <message>
        <source>kept the project's version</source>
        <translation>保留了项目版本</translation>
    </message>
    <message>
        <source>took the field's version</source>
        <translation>采用了外业版本</translation>
    </message>
    <message>
        <source>SurveyTools: resolve a field conflict</source>
        <translation>SurveyTools：处理外业冲突</translation>
    </message>
    <message>
        <source>Conflicts of field returns: keep the project's version or take the field's</source>
        <translation>外业回收的冲突：保留项目版本或采用外业版本</translation>
    </message>
</context>
</TS>
